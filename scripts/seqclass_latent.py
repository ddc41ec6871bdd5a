"""Rule seqclass_latent: t-SNE and UMAP maps and the silhouette of each stage's features -> maps.tsv + silhouette.tsv

The silhouette is computed on the features themselves (cosine distance), not on a 2-D map, so it does
not depend on the map's settings.
"""

import numpy as np
import pandas as pd

from mrissl.seqclass.latent import silhouette, tsne_2d, umap_2d
from mrissl.runlog import log_to

log = log_to(snakemake.log[0])

features = np.load(snakemake.input.features)
points = pd.read_csv(snakemake.input.points, sep="\t", dtype={"label": str})
stages = snakemake.params.stages
if len(stages) != len(features):
    raise ValueError(f"{snakemake.input.features} holds {len(features)} stages, the rule names {len(stages)}: {stages}")
seed = int(snakemake.wildcards.seed)
maps, scores = [], []
for stage, stage_features in zip(stages, features):
    tsne = tsne_2d(stage_features, seed, snakemake.params.perplexity)
    umap = umap_2d(stage_features, seed, snakemake.params.n_neighbors)
    score = silhouette(stage_features, points["label"].to_numpy(), metric="cosine")
    log.info("%s: silhouette %.3f", stage, score)
    maps.append(points.assign(stage=stage, tsne_x=tsne[:, 0], tsne_y=tsne[:, 1], umap_x=umap[:, 0], umap_y=umap[:, 1]))
    scores.append({"stage": stage, "silhouette": score})

pd.concat(maps)[["stage", "row", "label", "tsne_x", "tsne_y", "umap_x", "umap_y"]].to_csv(
    snakemake.output.maps, sep="\t", index=False, lineterminator="\n")
pd.DataFrame(scores).to_csv(snakemake.output.silhouette, sep="\t", index=False, lineterminator="\n")
