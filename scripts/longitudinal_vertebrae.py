"""Rule longitudinal_vertebrae: every scan's 7 VB and 6 IVD volumes -> vb.npy, ivd.npy + index.tsv"""

from mrissl.longitudinal.curation import read_gradings, read_scan_table
from mrissl.longitudinal.vertebrae import extract_vertebrae
from mrissl.runlog import log_to

log_to(snakemake.log[0])
extract_vertebrae(
    read_scan_table(snakemake.input.scans),
    read_gradings(snakemake.input.gradings),
    snakemake.output.vb,
    snakemake.output.ivd,
    snakemake.output.index,
    vb_shape=snakemake.params.vb_shape,
    ivd_shape=snakemake.params.ivd_shape,
)
