"""Rule phantom_brain: the embedded brain cohort as a PACS-like DICOM export, labels.tsv and truth.tsv."""

import logging
from pathlib import Path

from mrissl.phantoms.brain import BrainCohortConfig, generate_brain_cohort

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO,
                    format="%(asctime)s %(levelname)s %(name)s: %(message)s")
logging.captureWarnings(True)

generate_brain_cohort(
    BrainCohortConfig.from_config(snakemake.params.brain),
    seed=snakemake.params.seed,
    dicom_dir=Path(snakemake.output.dicom),
    labels_path=Path(snakemake.output.labels),
    truth_path=Path(snakemake.output.truth),
)
