# Constants and input functions of the clip rules (workflow/rules/clip.smk).

CLIP = config["clip"]
CLIP_CHECKPOINTS = "results/checkpoints/clip"
# Settings of the training rules, as the settings dataclasses of mrissl.clip take them.
CLIP_TRAIN = {key: CLIP[key] for key in ["train", "model", "augment"]}
CLIP_TEXT = {"encoder": CLIP["text_encoder"], "text": CLIP["text"]}
CLIP_CATEGORY = "clip (paper 003)"
