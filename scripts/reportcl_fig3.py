"""Rule reportcl_fig3: FLAIR slice, tumour mask, attention map of each init and overlay (paper Fig. 3),
for one internal and one external V600E case (the largest tumours)."""

import numpy as np

from mrissl.figures import save_figure
from mrissl.reportcl.curation import read_tumour_index
from mrissl.reportcl.figures import attention_figure
from mrissl.runlog import log_to

log = log_to(snakemake.log[0])
inits = dict(snakemake.params.inits)
maps = {init: np.load(path) for init, path in zip(inits, snakemake.input.maps)}
cases = []
for dataset in ("internal", "external"):
    images = np.load(snakemake.input[f"{dataset}_images"], mmap_mode="r")
    masks = np.load(snakemake.input[f"{dataset}_masks"], mmap_mode="r")
    index = read_tumour_index(snakemake.input[f"{dataset}_index"]).set_index("row")
    rows = maps["proposed"][f"{dataset}_rows"]
    positive = [n for n, r in enumerate(rows) if index.loc[r, "marker"] == "braf_v600e"] or list(range(len(rows)))
    n = max(positive, key=lambda k: int((masks[rows[k]] > 0).sum()))
    grid = {init: (m[dataset][n] if dataset == "internal" else m[dataset][0, n]) for init, m in maps.items()}
    cases.append({"title": f"{dataset} ({index.loc[rows[n], 'location']})", "image": images[rows[n]],
                  "mask": masks[rows[n]], "maps": grid})
save_figure(attention_figure(cases, inits), snakemake.output.png)
