"""Rule phantom_tumour: a paediatric tumour cohort in the BraTS-PED 2023 layout, clinical.tsv and reports.tsv."""

from pathlib import Path

from mrissl.phantoms.tumour import TumourCohortConfig, generate_tumour_cohort
from mrissl.runlog import log_to

log = log_to(snakemake.log[0])
clinical = generate_tumour_cohort(
    TumourCohortConfig.from_config(snakemake.params.cohort),
    seed=snakemake.params.seed,
    cohort=snakemake.wildcards.cohort,
    data_dir=Path(snakemake.output.data),
    clinical_path=Path(snakemake.output.clinical),
    reports_path=Path(snakemake.output.reports),
)
log.info("%d patients: %s", len(clinical), clinical["marker"].value_counts().to_dict())
