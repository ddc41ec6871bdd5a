"""Rule phantom_spine: the embedded lumbar spine cohort in SPIDER's layout, and its scan table."""

from pathlib import Path

from mrissl.phantoms.spine import SpineCohortConfig, generate_spine_cohort
from mrissl.runlog import log_to

log = log_to(snakemake.log[0])
scans = generate_spine_cohort(
    SpineCohortConfig.from_config(snakemake.params.spine),
    seed=snakemake.params.seed,
    data_dir=Path(snakemake.output.data),
    scans_path=Path(snakemake.output.scans),
    workers=snakemake.threads,
)
log.info("%d scans of %d subjects", len(scans), scans["subject"].nunique())
