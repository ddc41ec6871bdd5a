"""Rule index_dicom: one row per file under the DICOM root, with its series, patient and shard."""

from mrissl.ingest import index_dicom
from mrissl.runlog import log_to

log_to(snakemake.log[0])

index_dicom(snakemake.input.root, snakemake.params.salt, snakemake.params.shards, snakemake.output.index)
