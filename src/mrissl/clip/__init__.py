"""clip (paper 003): a CLIP-style 3D MRI-report model on brain pathologies.

- ``curation``, ``registration``: DWI b1000 and T2* rigidly registered to FLAIR (SimpleITK), stacked,
  patient-level splits balanced over the report-derived classes;
- ``text`` (frozen text encoder, CLS features cached once), ``models`` (3D U-Net contracting path,
  projections, learned temperature), ``augment``, ``losses`` (the shared symmetric InfoNCE),
  ``train``; ``retrieval``, ``zeroshot``, ``tables`` and ``figures`` evaluate and render.
"""

# Channel order of the stacked volume, and the manifest label each channel comes from.
CHANNELS = ("DWI", "T2star", "FLAIR")
CHANNEL_LABELS = {"DWI": "TraceW", "T2star": "GRE", "FLAIR": "FLAIR"}
FIXED = "FLAIR"
MOVING = ("T2star", "DWI")
