"""Rule phantom_pathology: the brain-pathology cohort of clip (BIDS) with reports, labels and the true motion."""

from pathlib import Path

from mrissl.phantoms.pathology import PathologyCohortConfig, generate_pathology_cohort
from mrissl.runlog import log_to

log = log_to(snakemake.log[0])
labels = generate_pathology_cohort(
    PathologyCohortConfig.from_config(snakemake.params.pathology),
    seed=snakemake.params.seed,
    data_dir=Path(snakemake.output.data),
    reports_path=Path(snakemake.output.reports),
    labels_path=Path(snakemake.output.labels),
    motion_path=Path(snakemake.output.motion),
)
log.info("wrote %d studies of %d subjects", len(labels), labels["subject"].nunique())
