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
    PYTHONPATH=os.pathsep.join(
        filter(None, [str(Path(workflow.basedir) / "src"), os.getenv("PYTHONPATH")])
    )
)


# Shared stages, then one rule file per study (its input functions in <study>_common.smk, included
# just before it). A study's rules read the shared stages' outputs, never another study's.
include: "workflow/rules/common.smk"
include: "workflow/rules/phantom.smk"


# The DICOM ingest and the dataset readers both write results/ingest/manifest.tsv: include one.
if config["data"]["source"] in ("phantom", "dicom"):

    include: "workflow/rules/ingest.smk"

else:

    include: "workflow/rules/readers.smk"


include: "workflow/rules/cohorts.smk"
include: "workflow/rules/seqclass_common.smk"
include: "workflow/rules/seqclass.smk"
include: "workflow/rules/reportcl_common.smk"
include: "workflow/rules/reportcl.smk"
include: "workflow/rules/longitudinal_common.smk"
include: "workflow/rules/longitudinal.smk"
include: "workflow/rules/clip_common.smk"
include: "workflow/rules/clip.smk"
include: "workflow/rules/lineage.smk"


rule all:
    default_target: True
    input:
        all_targets(),
