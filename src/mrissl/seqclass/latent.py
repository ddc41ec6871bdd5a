"""2-D maps of encoder features (t-SNE, UMAP) and how well the classes separate (silhouette)."""

from __future__ import annotations

import numpy as np
from sklearn.manifold import TSNE
from sklearn.metrics import silhouette_score


def tsne_2d(features: np.ndarray, seed: int, perplexity: float = 30.0) -> np.ndarray:
    """(N, 2) t-SNE of (N, F) features; perplexity is capped below N / 3 so small sets work too."""
    perplexity = min(perplexity, max(1.0, (len(features) - 1) / 3))
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(features)


def umap_2d(features: np.ndarray, seed: int, n_neighbors: int = 15) -> np.ndarray:
    """(N, 2) UMAP of (N, F) features; a fixed ``random_state`` makes umap-learn deterministic (single-threaded)."""
    from umap import UMAP  # imported here: numba compiles umap on import (~10 s)

    n_neighbors = min(n_neighbors, len(features) - 1)
    return UMAP(n_components=2, n_neighbors=n_neighbors, random_state=seed, n_jobs=1).fit_transform(features)


def silhouette(points: np.ndarray, labels: np.ndarray, metric: str = "euclidean") -> float:
    """Mean silhouette of the labelled ``points`` (features or a 2-D map): 1 separated, ~0 mixed."""
    if not 2 <= len(np.unique(labels)) < len(points):
        raise ValueError(f"silhouette needs 2 to N-1 classes among {len(points)} points, "
                         f"got {len(np.unique(labels))}")
    return float(silhouette_score(points, labels, metric=metric))
