"""Rule seqclass_transfer_dataset: one split of an external site joined with the internal slices of the other classes."""

from mrissl.seqclass.slices import combine_transfer_split
from mrissl.seqclass.datasets import load_slices
from mrissl.runlog import log_to

log_to(snakemake.log[0])
internal = load_slices(snakemake.input.internal_array, snakemake.input.internal_index)
site = load_slices(snakemake.input.site_array, snakemake.input.site_index)
combine_transfer_split(
    (internal.images, internal.index), (site.images, site.index), snakemake.params.site_classes,
    snakemake.wildcards.split, snakemake.output.array, snakemake.output.index,
)
