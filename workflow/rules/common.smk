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
