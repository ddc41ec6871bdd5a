# Study-free helpers of the workflow: resources from config, where the raw data lives, the phantom
# cohorts, and the products every study adds to (rule all). The logic is in src/mrissl/.

PHANTOM_ROOT = "raw/phantom"
PHANTOM_BRAIN = f"{PHANTOM_ROOT}/brain"
# What names source files (paths below data.root, which may name patients) lives in private/,
# never in results/: as sensitive as the raw data, never shared with the results.
PRIVATE_FILE_INDEX = "private/ingest/file_index.tsv"
# Study cohorts: each phantom rule writes raw/phantom/<cohort>/data in this real dataset's layout.
COHORT_FORMATS = {
    "tumour_internal": "brats2023",
    "tumour_external": "brats2023",
    "spine": "spider",
    "pathology": "bids",
}
# External sites (seqclass transfer, paper 000 Fig. 3) are phantom cohorts too; an override file
# leaves one of the default's out by setting it to null.
EXTERNAL_SITES = {
    site: site_config
    for site, site_config in config["phantom"]["external_sites"].items()
    if site_config is not None
}
for site, site_config in EXTERNAL_SITES.items():
    if site in COHORT_FORMATS:
        raise ValueError(
            f"config: phantom.external_sites.{site} has the name of a study cohort; rename the site"
        )
    COHORT_FORMATS[site] = site_config["layout"]
EXTERNAL_SITE_PATTERN = (
    "|".join(EXTERNAL_SITES) or "(?!)"
)  # (?!) matches nothing: no sites configured
TUMOUR_COHORTS = ["tumour_internal", "tumour_external"]
# Priority of the rules on the pipeline's longest chain (DICOM ingest -> seqclass curation,
# pretraining, fine-tuning, evaluation, latent maps): scheduled first, the other studies' jobs fill
# the free cores beside it instead of leaving it to run alone at the end.
LONGEST_CHAIN = 10
SPLITS = ["train", "val", "test"]
# The tables and figures of every study (each study's rule file adds its own; rule all builds them
# and their lineage records), and curated inputs that no table reads but rule all builds all the same.
PRODUCTS = []
CURATED = []


def threads_of(kind, serial=False):
    """Threads of a kind of rule (light, curate, gpu) from config['resources']; a serial rule, whose
    script runs on one core whatever it is given, takes one, so that it never holds a second idle.
    """
    return 1 if serial else config["resources"][kind]["threads"]


def resources_of(kind, serial=False, multi_gpu=False):
    """Slurm-plugin resources for a kind of rule from config['resources']; serial as in threads_of.
    A job asks for one GPU; a multi_gpu one (a training that runs one process per GPU, see
    training_processes) asks for all of config resources.<kind>.gpu.
    """
    spec = config["resources"][kind]
    res = {
        "mem_mb": spec["mem_mb"],
        "runtime": spec["runtime"],
        "cpus_per_task": threads_of(kind, serial),
    }
    if spec["gpu"] > 0:
        res["gpu"] = spec["gpu"] if multi_gpu else 1
        if "gpu_model" in spec:
            res["gpu_model"] = spec["gpu_model"]
    if "slurm_partition" in spec:
        res["slurm_partition"] = spec["slurm_partition"]
    return res


def training_processes():
    """Processes of a multi-GPU training job, whose resources are resources_of("gpu", multi_gpu=True),
    one per GPU of config resources.gpu.gpu, one on a machine without GPUs (gpu 0); each trains on its
    shard of every batch (mrissl.training.run_in_processes)."""
    return max(1, config["resources"]["gpu"]["gpu"])


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
    return [
        f"results/lineage/{path.removeprefix('results/')}.json" for path in products
    ]


def all_targets():
    return PRODUCTS + lineage_records(PRODUCTS) + CURATED
