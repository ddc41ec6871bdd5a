"""seqclass (paper 000): SimCLR / SimSiam pretraining on 2D slices, 9-class sequence classification.

- ``slices``: the central fraction of slices of each labelled series in three planes, resized and
  intensity-normalised, stored per split as one memory-mappable ``.npy`` plus a TSV index;
  ``datasets`` reads them back in batches.
- ``augment`` (batched on the device), ``models`` (MONAI ResNet-18 encoder, heads), ``losses``
  (NT-Xent, SimSiam), ``train`` (resumable pretraining), ``finetune`` (label fractions, evaluation),
  ``header_baseline`` (a random forest on DICOM header fields), ``latent`` (t-SNE / UMAP), ``figures``.
"""

from __future__ import annotations

from collections.abc import Iterable

# The nine sequence classes of the seqclass paper (seed 000), in its order; tables and figures list
# classes this way.
SEQUENCE_CLASSES = ("T1", "T2", "FLAIR", "TOF", "TraceW", "DWI", "ADC", "GRE", "Perfusion")


def ordered_classes(labels: Iterable[str], order: Iterable[str] = SEQUENCE_CLASSES) -> list[str]:
    """The distinct ``labels``: those named in ``order`` first, in that order, then the rest sorted."""
    present, order = set(labels), list(order)
    return [c for c in order if c in present] + sorted(present - set(order))
