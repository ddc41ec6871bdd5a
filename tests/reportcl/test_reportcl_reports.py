"""Report cleaning: every date, number and genetic-marker word goes; the findings stay; tokens line up."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import pytest

from mrissl.reportcl.reports import clean_report, clean_reports, tokenise
from mrissl.vocabulary import MARKERS
from mrissl.phantoms.tumour import Case, allot_markers, draw_tumour
from mrissl.phantoms.tumour_reports import MARKER_PHRASES, write_report
from mrissl.text_encoders import PACKAGED_MINILM

# Anything that names a marker: words starting so (case-insensitive; "diffusion" is not "fusion").
LEAK = re.compile(r"\b(?:braf|kiaa|v600|fusion|fused|mutat|mutant|wild|fgfr|myb|nf1|nf-1|neurofibromatosis|rearrang|"
                  r"duplication|ntrk|k27|idh|cdkn)", re.IGNORECASE)
MONTHS = re.compile(r"\b(january|february|march|april|may|june|july|august|september|october|november|december|"
                    r"jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)\b", re.IGNORECASE)


def digits_left(text: str) -> list[str]:
    """Words with a digit, other than the sequence names T1 and T2."""
    return [w for w in text.split() if any(c.isdigit() for c in w) and w.lower() not in {"t1", "t2"}]


@pytest.mark.parametrize("tricky, kept", [
    ("Known BRAF-KIAA1549 fusion positive pilocytic astrocytoma.", "Known pilocytic astrocytoma"),
    ("KIAA1549:BRAF fusion", ""),
    ("BRAFV600E ganglioglioma", "ganglioglioma"),
    ("V600E", ""),
    ("BRAF p.V600E (c.1799T>A) mutation detected", "detected"),
    ("negative for BRAF V600E mutation and KIAA1549-BRAF fusion on testing", "on testing"),
    ("BRAF wild-type low-grade glioma", "low grade glioma"),
    ("wildtype tumour; no mutation", "tumour no"),
    ("NF1-associated optic pathway glioma", "optic pathway glioma"),
    ("in a patient with neurofibromatosis type 1", "in a patient with"),
    ("FGFR1 tandem duplication", ""),
    ("H3 K27M altered", ""),
    ("Exam 12/03/2015, prior 2015-03-12 and 12.03.15.", "Exam prior and"),
    ("Seen on March 12, 2015 and 12-Mar-2015, also 12th of March 2015 and Mar 2015.", "Seen on and also and"),
    ("Measuring 3.2 x 2.8 cm (previously 3.0 x 2.6 x 2.1 cm); 6 mm shift.", "Measuring previously shift"),
    ("On a 1.5 T scanner, 3T, 4.5 mL of Gadovist, 13-year-old.", "On a scanner of Gadovist year old"),
    ("Sagittal 3D FLAIR, b1000 DWI; T2/FLAIR hyperintense, T1 hypointense.",
     "Sagittal FLAIR DWI T2 FLAIR hyperintense T1 hypointense"),
    ("This may represent a mass. Marginated, decreased, septated.",
     "This may represent a mass Marginated decreased septated"),
    ("IMPRESSION:\n1. Stable mass.\n2. No new lesion.", "IMPRESSION Stable mass No new lesion"),
])
def test_hand_written_tricky_reports(tricky, kept):
    cleaned = clean_report(tricky)
    assert cleaned == kept
    assert not LEAK.search(cleaned) and not digits_left(cleaned)


def test_every_marker_phrase_the_generator_writes_is_removed():
    for phrases in MARKER_PHRASES.values():
        for phrase in phrases:
            assert clean_report(f"known {phrase} glioma") == "known glioma", phrase


def generated_reports(n: int) -> list[str]:
    """Reports of drawn tumours (no image rendering), with the years and sizes a cohort has."""
    rng = np.random.default_rng(11)
    reports = []
    for marker in allot_markers(n, {"braf_fusion": 137, "braf_v600e": 67, "other": 137}):
        tumour = draw_tumour(rng, marker)
        extent = tuple(round(tumour.diameter_cm * f, 1) for f in rng.uniform(0.6, 1.0, 3))
        case = Case(subject="x", sex=str(rng.choice(["F", "M"])), age_years=float(rng.uniform(0.5, 17.9)),
                    scan_date=dt.date(2000, 1, 1) + dt.timedelta(days=int(rng.integers(0, 6900))),
                    manufacturer="SIEMENS", field_strength_t=float(rng.choice([1.5, 3.0])), tumour=tumour,
                    extent_cm=extent, solid_to_white_matter=float(rng.uniform(1.2, 2.6)),
                    cyst_to_white_matter=float(rng.uniform(0.3, 2.0)))
        reports.append(write_report(rng, case))
    return reports


def test_generated_reports_leak_before_and_not_after_cleaning():
    reports = generated_reports(400)
    assert sum(bool(LEAK.search(r)) for r in reports) > 60  # the generator does name markers
    assert all(MONTHS.search(r) or re.search(r"\d{4}-\d{2}-\d{2}|\d{2}/\d{2}/\d{4}", r) for r in reports)
    for report in reports:
        cleaned = clean_report(report)
        assert not LEAK.search(cleaned), cleaned
        assert not MONTHS.search(cleaned), cleaned
        assert not digits_left(cleaned), cleaned
        assert not re.search(r"[^\w\s]", cleaned), cleaned
        assert "FINDINGS" in cleaned and "mass" in cleaned and len(cleaned.split()) > 60


def test_tokenise_with_the_packaged_minilm():
    texts = ["small cerebellar mass", "infiltrative " * 40]
    ids, attention, counts = tokenise(texts, PACKAGED_MINILM, 16)
    assert ids.shape == attention.shape == (2, 16) and ids.dtype == np.int32 and attention.dtype == np.uint8
    assert counts[0] == attention[0].sum() < 16 and counts[1] > 16 and attention[1].sum() == 16
    with pytest.raises(ValueError, match="exceeds"):
        tokenise(texts, PACKAGED_MINILM, 100_000)


def test_clean_reports_follow_the_image_index():
    index = pd.DataFrame({"row": [0, 1, 2], "patient_key": ["k0", "k1", "k2"]})
    reports = pd.DataFrame({"patient_key": ["k2", "k0"], "report": ["Mass on 2015-03-12.", "BRAF V600E mass 3 cm."]})
    table, ids, attention = clean_reports(reports, index, PACKAGED_MINILM, 12)
    assert list(table["row"]) == [0, 2] and list(table["text"]) == ["mass", "Mass on"]
    assert ids.shape == (2, 12) and list(table["n_words"]) == [1, 2]
    with pytest.raises(ValueError, match="more than one report"):
        clean_reports(pd.concat([reports, reports]), index, PACKAGED_MINILM, 12)


def test_markers_are_the_curation_vocabulary():
    assert set(MARKER_PHRASES) >= {"braf_fusion", "braf_v600e"} and set(MARKERS) == {"braf_fusion", "braf_v600e",
                                                                                   "other"}
