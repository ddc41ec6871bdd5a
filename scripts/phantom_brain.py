"""Rule phantom_brain: the embedded brain cohort as a PACS-like DICOM export, labels.tsv and truth.tsv."""

from pathlib import Path

from mrissl.phantoms.brain import BrainCohortConfig, generate_brain_cohort
from mrissl.runlog import log_to

log_to(snakemake.log[0])

generate_brain_cohort(
    BrainCohortConfig.from_config(snakemake.params.brain),
    seed=snakemake.params.seed,
    dicom_dir=Path(snakemake.output.dicom),
    labels_path=Path(snakemake.output.labels),
    truth_path=Path(snakemake.output.truth),
)
