"""Rule clip_text: frozen text-encoder features of every report, the class prompts and the query,
computed once (paper 003, 4.1) -> results/clip/text_features.npz"""

import numpy as np
import pandas as pd

from mrissl.clip.text import TextConfig, report_and_prompt_features
from mrissl.runlog import log_to

log = log_to(snakemake.log[0])
settings = snakemake.params.settings
index = pd.read_csv(snakemake.input.index, sep="\t", usecols=["row", "report"]).sort_values("row")
arrays = report_and_prompt_features(index["report"].tolist(), dict(snakemake.params.prompts), snakemake.params.query,
                                    TextConfig.from_config(settings["text"], settings["encoder"]))
np.savez(snakemake.output.features, **arrays)
log.info("%d reports, %d prompts: features of %d dimensions", len(index), len(arrays["prompts"]),
         arrays["features"].shape[1])
