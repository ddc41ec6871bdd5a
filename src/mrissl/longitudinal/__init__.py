"""longitudinal (paper 002): a Siamese network on vertebral bodies of the same subject across time.

- ``curation`` (scans, subjects, twin pairs, splits), ``vertebrae`` (VB/IVD volumes);
- ``pairs`` (same VB level, same subject at two time points vs two subjects), ``models`` (the paper's
  VGG-M variant), ``losses`` (contrastive + class-balanced level loss), ``augment``, ``train``;
- ``evaluate`` (pair distances, ROC, twins), ``inference``, ``grading`` (transfer to disc grading) and
  ``figures``.
"""
