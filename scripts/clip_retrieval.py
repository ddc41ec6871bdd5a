"""Rule clip_retrieval: R@k, median and mean rank in both directions, chance, and the paper's
class-match view on the test split -> results/tables/clip_retrieval.*"""

from pathlib import Path

import numpy as np
import pandas as pd

from mrissl.clip.retrieval import test_retrieval_table
from mrissl.runlog import log_to
from mrissl.tables import write_table_formats

log = log_to(snakemake.log[0])
with np.load(snakemake.input.embeddings) as embeddings:
    table = test_retrieval_table(dict(embeddings), pd.read_csv(snakemake.input.index, sep="\t"))
written = write_table_formats(table, Path(snakemake.output.csv).with_suffix(""), caption=snakemake.params.caption)
log.info("%s", table.to_string())
