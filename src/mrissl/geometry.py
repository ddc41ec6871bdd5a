"""Orientation conventions shared by the phantoms, the readers and the curation.

DICOM stores patient coordinates in LPS (x to the patient's left, y posterior, z superior); NIfTI
in RAS. The NIfTI affine of the same voxels is ``LPS_TO_RAS @ affine_lps``.
"""

from __future__ import annotations

import numpy as np

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
