"""Curation: from the manifest to what training reads.

- ``splits``: patient-level train/val/test splits, kept by family/twin group and stratified by the
  classes of each patient's series; ``assert_disjoint_splits`` is the leak check every cohort reuses.
- ``slices``: the central fraction of slices of each labelled series in three planes, resized and
  intensity-normalised, stored per split as one memory-mappable ``.npy`` plus a TSV index.
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
