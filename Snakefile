# mrissl: raw MRI -> curated inputs -> pretraining -> fine-tuning -> tables, figures, lineage.
# Run `make demo` (or `snakemake --cores 2`); on a cluster `snakemake --profile profiles/slurm`.
from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/phantom.smk"
include: "workflow/rules/ingest.smk"
include: "workflow/rules/curate.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        all_targets(),
    default_target: True
