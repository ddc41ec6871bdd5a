# Constants and input functions of the seqclass rules (workflow/rules/seqclass.smk).
#
# Wildcards
#   {cohort}   a curated cohort of brain series: "internal" (the ingested cohort) or an external site;
#   {method}, {batch}, {px}
#              a pretraining run: method (simclr | simsiam), batch size and image size; the grid of
#              config seqclass.batch_sweep and seqclass.resolution_sweep;
#   {init}     what fine-tuning starts from at {px}: a run "{method}_b{batch}" or "scratch" (random
#              weights, the supervised baseline);
#   {seed}     a replicate (config seqclass.seeds): pretraining, label subsets and fine-tuning;
#   {dataset}  the labelled slices fine-tuned and tested on: "internal" or an external site's transfer
#              dataset (Fig. 3: the site's classes from the site, the others from the internal cohort).

SEQCLASS = config["seqclass"]
SEQCLASS_CURATE = SEQCLASS["curate"]
SEQCLASS_METHODS = {"simclr": "SimCLR", "simsiam": "SimSiam"}
SEQCLASS_FRACTIONS = [
    format(fraction, "g") for fraction in SEQCLASS["finetune"]["fractions"]
]
SEQCLASS_SEEDS = SEQCLASS["seeds"]
SEQCLASS_CHECKPOINTS = "results/checkpoints/seqclass"
# Central slices (paper 000, Section 2.1): the internal cohort and the external sites alike.
SEQCLASS_SLICING = {
    key: SEQCLASS_CURATE[key]
    for key in [
        "planes",
        "slice_fraction",
        "min_slices_per_plane",
        "max_slices_per_plane",
        "image_size",
    ]
}
SEQCLASS_COHORTS = ["internal", *EXTERNAL_SITES]
# The labelled slices each {dataset} fine-tunes and tests on.
SEQCLASS_SLICES = {"internal": "results/seqclass/curate/internal/slices"} | {
    site: f"results/seqclass/{site}/slices" for site in EXTERNAL_SITES
}
# Per rule (a global wildcard_constraints would bind other studies' {seed} and {dataset} too).
SEQCLASS_WILDCARDS = {
    "cohort": "|".join(SEQCLASS_COHORTS),
    "method": "|".join(SEQCLASS_METHODS),
    "batch": r"\d+",
    "px": r"\d+",
    "init": r"(simclr|simsiam)_b\d+|scratch",
    "seed": r"\d+",
    "dataset": "|".join(SEQCLASS_SLICES),
}
SEQCLASS_SCENARIOS = [
    "1 supervised only",
    "2 pretrained, fine-tuned internal",
    "3 pretrained, fine-tuned on site",
]


def seqclass_run(method, batch_size, image_size):
    """A pretraining run's folder name, results/seqclass/pretrain/{method}_b{batch}_px{px}."""
    return f"{method}_b{batch_size}_px{image_size}"


def seqclass_grid():
    """Every pretraining run as (method, batch size, image size): Tables 1-2 (both methods x batch
    sizes) and Table 3 (batch x image size)."""
    batch, resolution = SEQCLASS["batch_sweep"], SEQCLASS["resolution_sweep"]
    runs = {
        (m, b, batch["image_size"])
        for m in SEQCLASS_METHODS
        for b in batch["batch_sizes"]
    }
    runs |= {
        (resolution["method"], b, s)
        for b in resolution["batch_sizes"]
        for s in resolution["image_sizes"]
    }
    return sorted(runs)


def seqclass_runs():
    return [seqclass_run(*run) for run in seqclass_grid()]


SEQCLASS_FOCUS_RUN = SEQCLASS["focus_run"]
SEQCLASS_FOCUS = seqclass_run(
    **SEQCLASS_FOCUS_RUN
)  # the run of Fig. 2, the confusion figure and Fig. 3
SEQCLASS_PX = SEQCLASS["batch_sweep"]["image_size"]
SEQCLASS_SCRATCH = f"scratch_px{SEQCLASS_PX}"


def seqclass_encoder(init, px):
    """The folder name of a fine-tuned encoder: "{init}_px{px}"."""
    return f"{init}_px{px}"


def seqclass_check_image_sizes():
    """Slices are resized down on the device; a size above the curated one would only upsample."""
    largest = max(
        [px for _, _, px in seqclass_grid()] + [SEQCLASS_FOCUS_RUN["image_size"]]
    )
    if largest > SEQCLASS_CURATE["image_size"]:
        raise ValueError(
            f"config: seqclass trains at {largest} px but seqclass.curate.image_size is "
            f"{SEQCLASS_CURATE['image_size']}; set seqclass.curate.image_size to the largest seqclass image size ({largest})"
        )


def seqclass_check_recipes():
    """A warm-up as long as the run would leave no epoch for the cosine decay."""
    epochs = SEQCLASS["pretrain"]["epochs"]
    for method, recipe in SEQCLASS["pretrain"]["recipes"].items():
        if recipe["warmup_epochs"] >= epochs:
            raise ValueError(
                f"config: seqclass.pretrain.recipes.{method}.warmup_epochs ({recipe['warmup_epochs']}) must be "
                f"fewer than seqclass.pretrain.epochs ({epochs})"
            )


def seqclass_check_batch_sizes():
    """Each process of a multi-GPU pretraining takes an equal share of every batch."""
    processes = training_processes()
    batch_sizes = {b for _, b, _ in seqclass_grid()}
    batch_sizes.add(SEQCLASS_FOCUS_RUN["batch_size"])
    uneven = sorted(b for b in batch_sizes if b % processes)
    if uneven:
        raise ValueError(
            f"config: seqclass pretraining batch sizes {uneven} (seqclass.batch_sweep, seqclass.resolution_sweep, "
            f"seqclass.focus_run) cannot be split evenly over the {processes} GPUs of resources.gpu.gpu"
        )


def seqclass_manifest(wildcards):
    """The manifest a cohort's series come from: the ingest's, or the external site's read_cohort."""
    if wildcards.cohort == "internal":
        return "results/ingest/manifest.tsv"
    return f"results/cohorts/{wildcards.cohort}/manifest.tsv"


def seqclass_split(dataset, *splits):
    """Named inputs {split}_array / {split}_index of a dataset's slice arrays (use with unpack)."""
    folder = SEQCLASS_SLICES[dataset]
    return {
        f"{s}_{kind}": f"{folder}/{s}.{ext}"
        for s in splits
        for kind, ext in [("array", "npy"), ("index", "tsv")]
    }


def seqclass_pretrain_settings(wildcards):
    common = {
        key: value for key, value in SEQCLASS["pretrain"].items() if key != "recipes"
    }
    return {
        **common,
        **SEQCLASS["pretrain"]["recipes"][wildcards.method],
        "method": wildcards.method,
        "batch_size": int(wildcards.batch),
        "image_size": int(wildcards.px),
        "augment": SEQCLASS["augment"],
        "widen_factor": SEQCLASS["widen_factor"],
        "device": SEQCLASS["device"],
        "seed": int(wildcards.seed),
    }


def seqclass_fractions_by_class(wildcards):
    """Label fractions per class on an external site's dataset, whose site classes come from its own
    patients (mrissl.seqclass.slices.label_fraction_subsets); by patient on the internal cohort.
    """
    return wildcards.dataset != "internal"


def seqclass_pretrained(wildcards):
    """The pretrained encoder a fine-tuning starts from; none for scratch."""
    if wildcards.init == "scratch":
        return []
    return [
        f"results/seqclass/pretrain/{wildcards.init}_px{wildcards.px}/seed{wildcards.seed}/encoder_final.pt"
    ]


def seqclass_finetune_settings(wildcards):
    settings = {
        key: value
        for key, value in SEQCLASS["finetune"].items()
        if key not in ("fractions", "val_labels", "label_unit")
    }
    return {
        **settings,
        "augment": SEQCLASS["augment"],
        "widen_factor": SEQCLASS["widen_factor"],
        "device": SEQCLASS["device"],
        "image_size": int(wildcards.px),
        "seed": int(wildcards.seed),
    }


def seqclass_accuracy(dataset, encoder):
    return expand(
        f"results/seqclass/{dataset}/evaluate/{encoder}/seed{{seed}}/accuracy.tsv",
        seed=SEQCLASS_SEEDS,
    )


# How the labelled subsets are drawn and fine-tuning selects its epoch, for the table captions
# (seqclass.finetune.label_unit and val_labels).
SEQCLASS_LABEL_UNITS = {
    "patient": "whole patients",
    "series": "whole series",
    "slice": "single slices",
}[SEQCLASS["finetune"]["label_unit"]]
SEQCLASS_SELECTION = (
    f"labelled subsets of {SEQCLASS_LABEL_UNITS}; "
    + {
        "full": "each fine-tuning keeps the epoch best on the whole validation split",
        "matched": f"each fine-tuning keeps the epoch best on {SEQCLASS_LABEL_UNITS} of the validation split drawn at its label fraction",
    }[SEQCLASS["finetune"]["val_labels"]]
)

# How a pretrained encoder's classifier head starts (seqclass.finetune.head_init), for the captions.
SEQCLASS_HEAD = {
    "random": "a pretrained encoder is fine-tuned with a random head",
    "probe": "a pretrained encoder's head starts as a logistic regression on its frozen features, "
    "itself a candidate epoch (LP-FT)",
}[SEQCLASS["finetune"]["head_init"]]

SEQCLASS_POSITIVES = {
    "views": "positive pairs: two augmentations of one slice (the paper's)",
    "series": "positive pairs: two slices of one series, each augmented (MICLe)",
}[SEQCLASS["pretrain"]["positives"]]


def seqclass_table(table):
    """Table 1 (SimSiam), 2 (SimCLR) or 3 (resolution): corner label, caption, (column label, encoder) pairs."""
    seeds = f"mean over {len(SEQCLASS_SEEDS)} seed(s); {SEQCLASS_SELECTION}"
    if table == "table3":
        sweep = SEQCLASS["resolution_sweep"]
        name = SEQCLASS_METHODS[sweep["method"]]
        columns = [
            (f"{b}_{s}", seqclass_run(sweep["method"], b, s))
            for b in sweep["batch_sizes"]
            for s in sweep["image_sizes"]
        ]
        what = "pretraining batch size_image size"
    else:
        method = {"table1": "simsiam", "table2": "simclr"}[table]
        name, sweep = SEQCLASS_METHODS[method], SEQCLASS["batch_sweep"]
        columns = [
            (str(b), seqclass_run(method, b, sweep["image_size"]))
            for b in sweep["batch_sizes"]
        ]
        what = f"pretraining batch size at {sweep['image_size']} px"
    caption = f"{name}: test accuracy of the fine-tuned classifier per label fraction (rows) and {what} (columns); {SEQCLASS_POSITIVES}; {SEQCLASS_HEAD}; {seeds}."
    return {"corner": name, "caption": caption, "columns": columns}


def seqclass_transfer_scenarios(site):
    """Fig. 3: (scenario, accuracy files over seeds) of one external site, in the order of SEQCLASS_SCENARIOS."""
    transfer = (
        f"results/seqclass/{site}/transfer/{SEQCLASS_FOCUS}/seed{{seed}}/accuracy.tsv"
    )
    return list(
        zip(
            SEQCLASS_SCENARIOS,
            [
                seqclass_accuracy(site, SEQCLASS_SCRATCH),
                expand(transfer, seed=SEQCLASS_SEEDS),
                seqclass_accuracy(site, SEQCLASS_FOCUS),
            ],
        )
    )


def seqclass_products():
    """The seqclass tables and figures (rule all; each gets a lineage record)."""
    tables = ["curation_summary", "table1", "table2", "table3", "baselines"]
    figures = ["curation_montage", "fig2", "confusion", "loss_curves"]
    if EXTERNAL_SITES:
        tables.append("transfer")
        figures += ["fig3", "sites"]
    return [f"results/tables/seqclass_{t}.csv" for t in tables] + [
        f"results/figures/seqclass_{f}.png" for f in figures
    ]
