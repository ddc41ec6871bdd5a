"""Rule reportcl_frozen_outputs: what the frozen layers produce for each internal image-report pair,
once (image conv1-layer2 under the MedicalNet(-like) init, the frozen text layers)."""

import numpy as np
import pandas as pd
import torch

from mrissl.reportcl.curation import read_tumour_index
from mrissl.reportcl.models import ImageEncoder
from mrissl.reportcl.train import frozen_outputs
from mrissl.training import resolve_device
from mrissl.runlog import log_to
from mrissl.text_encoders import load_text_model, load_tokenizer

log = log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
fixed = snakemake.params.fixed
encoder = ImageEncoder(fixed["width"], fixed["dropout"])
encoder.load_state_dict(torch.load(snakemake.input.encoder, weights_only=True))
data = frozen_outputs(
    np.load(snakemake.input.images, mmap_mode="r"), read_tumour_index(snakemake.input.index),
    pd.read_csv(snakemake.input.reports, sep="\t", dtype={"patient_key": str}, keep_default_na=False),
    np.load(snakemake.input.token_ids), np.load(snakemake.input.attention_mask), encoder,
    load_text_model(snakemake.params.text_encoder), load_tokenizer(snakemake.params.text_encoder),
    snakemake.params.text_trainable_layers, resolve_device(fixed["device"]),
)
log.info("%d pairs: image stems %s, text states %s", len(data.stems), tuple(data.stems.shape[1:]),
         tuple(data.text_states.shape[1:]))
data.save(snakemake.output[0])
