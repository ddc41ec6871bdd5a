"""Rule clip_zeroshot: zero-shot accuracy of the test images against report-derived and true classes,
beside the image-only, text-only and majority baselines -> results/tables/clip_zeroshot.*"""

from pathlib import Path

import numpy as np
import pandas as pd

from mrissl.clip.zeroshot import zeroshot_evaluation
from mrissl.runlog import log_to
from mrissl.tables import write_table_formats

log = log_to(snakemake.log[0])
read = dict(sep="\t", dtype={"study_key": str}, keep_default_na=False, na_values=[""])
with np.load(snakemake.input.embeddings) as embeddings, np.load(snakemake.input.features) as features:
    table = zeroshot_evaluation(dict(embeddings), pd.read_csv(snakemake.input.index, **read),
                                pd.read_csv(snakemake.input.splits, **read), features["features"],
                                pd.read_csv(snakemake.input.image_baseline, **read), snakemake.params.seed)
written = write_table_formats(table, Path(snakemake.output.csv).with_suffix(""), caption=snakemake.params.caption)
log.info("%s", table.to_string())
