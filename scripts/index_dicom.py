"""Rule index_dicom: one row per file under the DICOM root, with its series, patient and shard."""

import logging

from mrissl.ingest import index_dicom

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO,
                    format="%(asctime)s %(levelname)s %(name)s: %(message)s")
logging.captureWarnings(True)

index_dicom(snakemake.input.root, snakemake.params.salt, snakemake.params.shards, snakemake.output.index)
