# Constants and input functions of the clip rules (workflow/rules/clip.smk).

CLIP = config["clip"]
CLIP_CHECKPOINTS = "results/checkpoints/clip"
# Settings of the training rules, as the settings dataclasses of mrissl.clip take them.
CLIP_TRAIN = {key: CLIP[key] for key in ["train", "model", "augment"]}
CLIP_TEXT = {"encoder": CLIP["text_encoder"], "text": CLIP["text"]}
CLIP_CATEGORY = "clip (paper 003)"


def clip_check_batch_size():
    """Each process of a multi-GPU training takes an equal share of every batch, the validation
    batches too (one batch of all validation studies when they are fewer than a batch).
    """
    batch_size, processes = CLIP["train"]["batch_size"], training_processes()
    val = CLIP["split"]["val"]
    if batch_size % processes or (val < batch_size and val % processes):
        raise ValueError(
            f"config: clip.train.batch_size ({batch_size}) and, when smaller, clip.split.val ({val}) must "
            f"split evenly over the {processes} GPUs of resources.gpu.gpu"
        )
