# Constants and input functions of the longitudinal rules (workflow/rules/longitudinal.smk).
#
# Wildcards
#   {init}  what the disc-grading classifier starts from (paper 002, Fig. 8): scratch, random (frozen
#           random convolutions), longitudinal (the Siamese network's, frozen) or supervised (the
#           stand-in for SpineNet's, frozen).

LONGITUDINAL = config["longitudinal"]
LONGITUDINAL_CHECKPOINTS = "results/checkpoints/longitudinal"
LONGITUDINAL_INITS = ["scratch", "random", "longitudinal", "supervised"]
# The conv weights each initialisation transfers (none for scratch and random).
LONGITUDINAL_CONV_WEIGHTS = {
    "longitudinal": "results/longitudinal/siamese/model.pt",
    "supervised": "results/longitudinal/supervised/model.pt",
}
LONGITUDINAL_CATEGORY = "longitudinal (paper 002)"


def longitudinal_settings(part):
    """A training section (siamese, grading, supervised) with the shared network, augmentation,
    device and seed, as its settings dataclass takes it."""
    section = dict(LONGITUDINAL[part])
    network = {**LONGITUDINAL["network"], "dropout": section.pop("dropout")}
    return {
        **section,
        "network": network,
        "augment": LONGITUDINAL["augment"],
        "device": LONGITUDINAL["device"],
        "seed": config["seed"],
    }


def longitudinal_conv_weights(wildcards):
    """The pretrained network a grading classifier takes its convolutions from; none for the others."""
    path = LONGITUDINAL_CONV_WEIGHTS.get(wildcards.init)
    return {"weights": path} if path else {}
