"""Rule clip_voxel_sizes: voxel size per image dimension of the DWI, T2* and FLAIR series (paper 003 Fig. 2)."""

from mrissl.clip.figures import voxel_size_figure
from mrissl.figures import save_figure
from mrissl.manifest import read_manifest
from mrissl.runlog import log_to

log = log_to(snakemake.log[0])
log.info("wrote %s", save_figure(voxel_size_figure(read_manifest(snakemake.input.manifest)), snakemake.output.png))
