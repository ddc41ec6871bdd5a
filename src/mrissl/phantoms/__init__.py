"""Synthetic raw data that looks like real exports: the embedded default cohorts.

``mr_physics`` (tissue parameters, signal equations), ``scanner`` (acquisition: geometry, resampling,
bias, noise, EPI effects, vendor scaling) and ``anatomy`` (the MNI152 head) are shared by every
cohort; ``dicom`` writes the series; ``brain`` is the multi-sequence brain cohort of paper 000.
"""
