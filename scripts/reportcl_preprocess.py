"""Rule reportcl_preprocess: a tumour cohort's FLAIR volumes and masks -> memory-mappable arrays + index."""

import pandas as pd

from mrissl.reportcl.curation import INDEX_COLUMNS, preprocess_tumour_cohort
from mrissl.manifest import read_manifest, write_table
from mrissl.runlog import log_to

log = log_to(snakemake.log[0])
index = preprocess_tumour_cohort(
    read_manifest(snakemake.input.manifest),
    pd.read_csv(snakemake.input.clinical, sep="\t", dtype={"subject": str}),
    salt=snakemake.params.salt,
    source=snakemake.params.source,
    volume_shape=snakemake.params.volume_shape,
    images_path=snakemake.output.images,
    masks_path=snakemake.output.masks,
)
write_table(index, snakemake.output.index, INDEX_COLUMNS)
log.info("%d volumes of shape %s", len(index), snakemake.params.volume_shape)
