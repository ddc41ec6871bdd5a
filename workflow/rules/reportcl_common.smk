# Constants and input functions of the reportcl rules (workflow/rules/reportcl.smk).

# Results of reportcl (paper 001): inits of the downstream image encoder, pretraining variants.
REPORTCL = config["reportcl"]
REPORTCL_CHECKPOINTS = "results/checkpoints/reportcl"
# Downstream inits of Tables 1-4 (key -> row label); "proposed" is the contrastive pretraining.
REPORTCL_INITS = {
    "random": "Randomly",
    "medicalnet": (
        "With MedicalNet"
        if REPORTCL.get("medicalnet_checkpoint")
        else "With MedicalNet-like (phantom segmentation)"
    ),
    "proposed": "With proposed CL",
}
# Pretraining variants of Table 5: the proposed settings with these overrides (null leaves one out).
REPORTCL_ABLATIONS = {
    name: overrides
    for name, overrides in (REPORTCL.get("ablations") or {}).items()
    if overrides is not None
}
REPORTCL_ABLATION_LABELS = {
    "global_only": "Global only",
    "local_only": "Local only",
    "no_location": "Tumor location-excluded",
    "term_weighting": "Location weighting on the term",
    "infonce": "Contrastive loss",
    "hard_negatives": "Hard negative sampling",
    "negatives_8": "Negative sampling size 8",
}
REPORTCL_VARIANTS = ["proposed", *REPORTCL_ABLATIONS]
REPORTCL_FIXED = {
    "width": REPORTCL["width"],
    "dropout": REPORTCL["dropout"],
    "seed": config["seed"],
    "device": REPORTCL["device"],
}


def reportcl_pretrain_settings(wildcards):
    """The pretraining settings of a variant: reportcl.pretrain with the ablation's overrides."""
    return {
        **REPORTCL["pretrain"],
        **REPORTCL_ABLATIONS.get(wildcards.variant, {}),
        **REPORTCL_FIXED,
    }


def reportcl_encoder(wildcards):
    """The image-encoder weights a downstream init starts from (none for a random init)."""
    if wildcards.init == "random":
        return []
    if wildcards.init == "medicalnet":
        return ["results/reportcl/init/medicalnet.pt"]
    return [f"results/reportcl/pretrain/{wildcards.init}/encoder.pt"]
