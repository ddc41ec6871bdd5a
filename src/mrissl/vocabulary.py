"""The study vocabularies and side-table formats that phantoms write and curation reads.

A hospital's side tables (clinical data, scan lists) come in many shapes; the pipeline reads one.
The phantoms write exactly that, and real sites map theirs to it. Both sides import from here, so
neither depends on the other.
"""

from __future__ import annotations

# reportcl (paper 001): the tumour cohort's clinical table.
MARKERS = ("braf_fusion", "braf_v600e", "other")
MARKER_NAMES = {"braf_fusion": "BRAF Fusion", "braf_v600e": "BRAF Mutation", "other": "Other"}  # paper Table 6
LOCATIONS = ("supratentorial", "infratentorial", "transtentorial")

# longitudinal (paper 002): the spine cohort's scan table (raw ids; kept under raw/).
RAW_SCAN_COLUMNS = ["scan", "subject", "twin_pair", "zygosity", "timepoint", "years_from_baseline", "field_strength_t"]
