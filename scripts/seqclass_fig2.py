"""Rule seqclass_fig2: t-SNE (top) and UMAP (bottom) of test embeddings at each stage, coloured by
class, with the silhouette of the features -> results/figures/seqclass_fig2.png (the paper's Fig. 2)."""

from mrissl.figures import save_figure
from mrissl.runlog import log_to
from mrissl.seqclass.figures import latent_figure

log = log_to(snakemake.log[0])
figure = latent_figure(snakemake.input.maps, snakemake.input.silhouette, snakemake.params.title)
log.info("wrote %s", save_figure(figure, snakemake.output.png))
