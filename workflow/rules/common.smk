# Helpers for the rule files (resources from config, input functions); the logic is in src/mrissl/

PHANTOM_ROOT = "raw/phantom"
PHANTOM_BRAIN = f"{PHANTOM_ROOT}/brain"
# Study cohorts: each phantom rule writes raw/phantom/<cohort>/data in this real dataset's layout.
COHORT_FORMATS = {
    "tumour_internal": "brats2023",
    "tumour_external": "brats2023",
    "spine": "spider",
    "pathology": "bids",
}
# External sites of the seqclass transfer experiment (workflow/rules/external_sites.smk): also cohorts.
EXTERNAL_SITES = config["phantom"]["external_sites"]
for site, site_config in EXTERNAL_SITES.items():
    if site in COHORT_FORMATS:
        raise ValueError(f"config: phantom.external_sites.{site} has the name of a study cohort; rename the site")
    COHORT_FORMATS[site] = site_config["layout"]
EXTERNAL_SITE_PATTERN = "|".join(EXTERNAL_SITES) or "(?!)"  # (?!) matches nothing: no sites configured
# Central slices (paper 000, Section 2.1): the internal cohort and the external sites alike.
CURATE_SLICING = {
    key: config["curate"][key]
    for key in ["planes", "slice_fraction", "min_slices_per_plane", "max_slices_per_plane", "image_size"]
}
SPLITS = ["train", "val", "test"]


def threads_of(kind):
    return config["resources"][kind]["threads"]


def resources_of(kind):
    """Slurm-plugin resources for a kind of rule (light, curate, gpu) from config['resources']."""
    spec = config["resources"][kind]
    res = {"mem_mb": spec["mem_mb"], "runtime": spec["runtime"], "cpus_per_task": spec["threads"]}
    if spec["gpu"] > 0:
        res["gpu"] = spec["gpu"]
        if "gpu_model" in spec:
            res["gpu_model"] = spec["gpu_model"]
    if "slurm_partition" in spec:
        res["slurm_partition"] = spec["slurm_partition"]
    return res


def dicom_root():
    """The folder of raw DICOM files the ingest walks."""
    if config["data"]["source"] == "phantom":
        return f"{PHANTOM_BRAIN}/dicom"
    return config["data"]["root"]


def series_labels():
    """The TSV of verified series classes (SeriesInstanceUID, label), or none."""
    if config["data"]["source"] == "phantom":
        return [f"{PHANTOM_BRAIN}/labels.tsv"]
    return [config["data"]["labels"]] if config["data"]["labels"] else []


def ingest_shards():
    return [f"{i:03d}" for i in range(config["ingest"]["shards"])]


def lineage_records(products):
    """The lineage record of each table or figure (rule lineage, workflow/rules/lineage.smk)."""
    return [f"results/lineage/{path.removeprefix('results/')}.json" for path in products]


def all_targets():
    products = [
        "results/tables/curation_summary.csv",
        "results/figures/curation_montage.png",
        *seqclass_products(),  # workflow/rules/seqclass.smk
        *TUMOUR_PRODUCTS,  # workflow/rules/tumour.smk
        *LONGITUDINAL_PRODUCTS,  # workflow/rules/longitudinal.smk
        *CLIP_COHORT_PRODUCTS,  # workflow/rules/clip_cohort.smk
    ]
    return products + lineage_records(products) + TUMOUR_CURATED + CLIP_COHORT_CURATED


# Input functions of the seqclass rules (workflow/rules/seqclass.smk).


def seqclass_run(method, batch_size, image_size):
    return f"{method}_b{batch_size}_px{image_size}"


def seqclass_runs():
    """Every pretraining run: Tables 1-2 (both methods x batch sizes) and Table 3 (batch x image size)."""
    batch, resolution = SEQCLASS["batch_sweep"], SEQCLASS["resolution_sweep"]
    runs = {(m, b, batch["image_size"]) for m in ("simclr", "simsiam") for b in batch["batch_sizes"]}
    runs |= {(resolution["method"], b, s) for b in resolution["batch_sizes"] for s in resolution["image_sizes"]}
    return [seqclass_run(*run) for run in sorted(runs)]


def seqclass_table(table):
    """Table 1 (SimSiam), 2 (SimCLR) or 3 (resolution): corner label, caption, (column label, encoder) pairs."""
    seeds = f"mean over {len(SEQCLASS_SEEDS)} seed(s)"
    if table == "table3":
        sweep = SEQCLASS["resolution_sweep"]
        name = SEQCLASS_METHODS[sweep["method"]]
        columns = [(f"{b}_{s}", seqclass_run(sweep["method"], b, s))
                   for b in sweep["batch_sizes"] for s in sweep["image_sizes"]]
        what = "pretraining batch size_image size"
    else:
        method = {"table1": "simsiam", "table2": "simclr"}[table]
        name, sweep = SEQCLASS_METHODS[method], SEQCLASS["batch_sweep"]
        columns = [(str(b), seqclass_run(method, b, sweep["image_size"])) for b in sweep["batch_sizes"]]
        what = f"pretraining batch size at {sweep['image_size']} px"
    caption = f"{name}: test accuracy of the fine-tuned classifier per label fraction (rows) and {what} (columns); {seeds}."
    return {"corner": name, "caption": caption, "columns": columns}


def seqclass_image_size(encoder):
    return int(encoder.rsplit("_px", 1)[1])


def seqclass_pretrain_settings(wildcards):
    method, batch_size, image_size = re.fullmatch(r"(\w+)_b(\d+)_px(\d+)", wildcards.run).groups()
    return {**SEQCLASS["pretrain"], "method": method, "batch_size": int(batch_size),
            "image_size": int(image_size), "augment": SEQCLASS["augment"],
            "widen_factor": SEQCLASS["widen_factor"], "device": SEQCLASS["device"], "seed": int(wildcards.seed)}


def seqclass_split(dataset, *splits):
    """Named inputs {split}_array / {split}_index of a dataset's slice arrays (use with unpack)."""
    folder = SEQCLASS_SLICES[dataset]
    return {f"{s}_{kind}": f"{folder}/{s}.{ext}" for s in splits for kind, ext in [("array", "npy"), ("index", "tsv")]}


def seqclass_pretrained(wildcards):
    """The pretrained encoder a fine-tuning starts from; none for scratch."""
    if wildcards.encoder.startswith("scratch"):
        return []
    return [f"results/seqclass/pretrain/{wildcards.encoder}/seed{wildcards.seed}/encoder_final.pt"]


def seqclass_finetune_settings(wildcards):
    settings = {key: value for key, value in SEQCLASS["finetune"].items() if key != "fractions"}
    return {**settings, "augment": SEQCLASS["augment"],
            "widen_factor": SEQCLASS["widen_factor"], "device": SEQCLASS["device"],
            "image_size": seqclass_image_size(wildcards.encoder), "seed": int(wildcards.seed)}


def seqclass_accuracy(dataset, encoder):
    return expand(f"results/seqclass/{dataset}/evaluate/{encoder}/seed{{seed}}/accuracy.tsv", seed=SEQCLASS_SEEDS)


SEQCLASS_SCENARIOS = ["1 supervised only", "2 pretrained, fine-tuned internal", "3 pretrained, fine-tuned on site"]


def seqclass_transfer_scenarios(site):
    """Fig. 3: (scenario, accuracy files over seeds) of one external site, in the order of SEQCLASS_SCENARIOS."""
    transfer = f"results/seqclass/{site}/transfer/{SEQCLASS_FOCUS}/seed{{seed}}/accuracy.tsv"
    return list(zip(SEQCLASS_SCENARIOS, [seqclass_accuracy(site, SEQCLASS_SCRATCH),
                                         expand(transfer, seed=SEQCLASS_SEEDS),
                                         seqclass_accuracy(site, SEQCLASS_FOCUS)]))


def seqclass_check_image_sizes():
    """Slices are resized down on the device; a size above the curated one would only upsample."""
    sizes = [seqclass_image_size(run) for run in [*seqclass_runs(), SEQCLASS_FOCUS]]
    if max(sizes) > config["curate"]["image_size"]:
        raise ValueError(
            f"config: seqclass trains at {max(sizes)} px but curate.image_size is {config['curate']['image_size']}; "
            f"set curate.image_size to the largest seqclass image size ({max(sizes)})"
        )


def seqclass_products():
    """The seqclass tables and figures (rule all; each gets a lineage record)."""
    tables = ["table1", "table2", "table3", "baselines"]
    figures = ["fig2", "confusion", "loss_curves"]
    if EXTERNAL_SITES:
        tables.append("transfer")
        figures.append("fig3")
    return [f"results/tables/seqclass_{t}.csv" for t in tables] + [f"results/figures/seqclass_{f}.png" for f in figures]
