# mrissl: raw MRI -> curated inputs -> pretraining -> fine-tuning -> tables, figures, lineage.
# Run `make demo` (or `snakemake --cores 2`); on a cluster `snakemake --profile profiles/slurm`.
import os
from pathlib import Path

from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


validate(config, "workflow/schemas/config.schema.yaml")


# Scripts import the mrissl library. The venv has it installed; a conda env (--sdm conda) does not,
# so src/ goes on the path of every job (Slurm jobs inherit the environment).
os.environ.update(
    PYTHONPATH=os.pathsep.join(filter(None, [str(Path(workflow.basedir) / "src"), os.getenv("PYTHONPATH")]))
)


include: "workflow/rules/common.smk"
include: "workflow/rules/phantom.smk"
# The DICOM ingest and the dataset readers both write results/ingest/manifest.tsv: include one.
if config["data"]["source"] in ("phantom", "dicom"):

    include: "workflow/rules/ingest.smk"

else:

    include: "workflow/rules/readers.smk"

include: "workflow/rules/cohorts.smk"
include: "workflow/rules/tumour.smk"
include: "workflow/rules/longitudinal.smk"
include: "workflow/rules/clip_cohort.smk"
include: "workflow/rules/curate.smk"
include: "workflow/rules/external_sites.smk"
include: "workflow/rules/seqclass.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/lineage.smk"


rule all:
    input:
        all_targets(),
    default_target: True
