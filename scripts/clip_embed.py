"""Rule clip_embed: test images, reports, class prompts and query in the joint space, and one
training batch (Fig. 6) -> results/clip/embeddings.npz"""

import numpy as np
import torch

from mrissl.clip.train import embed_test_set
from mrissl.runlog import log_to

log = log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
arrays = embed_test_set(snakemake.input.model, snakemake.input.volumes, snakemake.input.index,
                        snakemake.input.splits, snakemake.input.features, snakemake.params.batch_size)
np.savez(snakemake.output.embeddings, **arrays)
log.info("%d test studies embedded; logit scale %.2f", len(arrays["test_rows"]), float(arrays["logit_scale"]))
