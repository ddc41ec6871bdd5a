"""Rule seqclass_embed: encoder features of test slices at each stage -> features.npy (stage, slice, feature) + points.tsv

Stages, in input order: the encoder before pretraining (epoch 0), after it, and after fine-tuning at
each label fraction. The same randomly drawn test slices (params.max_points, seeded) go through all.
"""

import numpy as np
import torch

from mrissl.seqclass.datasets import load_slices
from mrissl.seqclass.finetune import embed
from mrissl.seqclass.models import load_encoder
from mrissl.runlog import log_to

log = log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)

settings = snakemake.params.settings
test = load_slices(snakemake.input.test_array, snakemake.input.test_index)
n_points = len(test.index) if snakemake.params.max_points is None else min(snakemake.params.max_points, len(test.index))
rows = np.sort(np.random.default_rng(settings["seed"]).choice(len(test.index), size=n_points, replace=False))
images = np.asarray(test.images[rows])
features = np.stack([
    embed(load_encoder(path, settings["widen_factor"]), images, settings["image_size"], device=settings["device"])
    for path in snakemake.input.encoders
]).astype(np.float32)
log.info("embedded %d test slices with %d encoders: features %s", n_points, len(snakemake.input.encoders), features.shape)
np.save(snakemake.output.features, features)
test.index.iloc[rows][["row", "label"]].to_csv(snakemake.output.points, sep="\t", index=False, lineterminator="\n")
