"""Radiology reports for the paediatric tumour cohort, written the way neuroradiologists write them.

A report has the usual sections (examination and date, clinical history, technique, comparison,
findings, impression) and says what the image shows: the site and side, the size in three axes
("3.2 x 2.8 x 2.5 cm"), solid and cystic parts, the margin, the FLAIR signal of the solid part and
whether the cyst fluid suppresses, oedema, mass effect and hydrocephalus. Dates come in the formats
real reports mix (2015-03-12, 12/03/2015, March 12, 2015, 12-Mar-2015). Follow-up reports compare
with a prior study and, more often after about 2010 when BRAF testing became routine, name the
known histology and genetic marker ("known KIAA1549-BRAF fusion positive pilocytic astrocytoma",
"BRAF V600E-mutant ganglioglioma", "BRAF wild-type low-grade glioma") in the history or impression:
the leakage that report cleaning (``mrissl.reportcl.reports``) must remove.

Every phrase that names a marker is built from ``MARKER_PHRASES``; nothing else in a report does.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from mrissl.phantoms.tumour import Case

# How reports name each marker (and, for "other", each detail); a follow-up picks one.
MARKER_PHRASES = {
    "braf_fusion": ["KIAA1549-BRAF fusion positive", "BRAF fusion positive", "BRAF-KIAA1549 fused", "BRAF fusion",
                    "KIAA1549:BRAF fusion", "BRAF rearranged", "BRAF-fusion"],
    "braf_v600e": ["BRAF V600E mutated", "BRAF V600E-mutant", "BRAF p.V600E mutation positive", "BRAF V600E positive",
                   "BRAFV600E", "V600E-mutated BRAF", "BRAF mutant (V600E)"],
    "NF1": ["NF1-associated", "neurofibromatosis type 1 related", "NF-1 related"],
    "FGFR1": ["FGFR1-altered", "FGFR1 mutated", "FGFR1 tandem duplication"],
    "MYB": ["MYB-altered", "MYB/MYBL1 rearranged"],
    "wild-type": ["BRAF wild-type", "BRAF fusion and V600E negative", "BRAF wildtype",
                  "negative for BRAF V600E mutation and KIAA1549-BRAF fusion"],
}
TESTED_FROM_YEAR = 2010  # BRAF status appears in reports from about then
EXAMINATIONS = ["MRI BRAIN WITH AND WITHOUT CONTRAST", "MRI HEAD WITHOUT AND WITH GADOLINIUM", "MR BRAIN",
                "MRI BRAIN TUMOUR PROTOCOL", "MRI BRAIN AND ORBITS", "MRI HEAD (GENERAL ANAESTHETIC)"]
SYMPTOMS = {
    "posterior fossa": ["headaches and early-morning vomiting", "truncal ataxia", "an unsteady gait",
                        "nystagmus and headaches", "papilloedema", "worsening balance"],
    "brainstem": ["a left sixth nerve palsy", "diplopia", "ataxia and facial weakness", "a head tilt",
                  "swallowing difficulty"],
    "hemisphere": ["new-onset seizures", "focal seizures", "complex partial seizures", "headaches",
                   "a first generalised seizure"],
    "suprasellar": ["decreased visual acuity", "a bitemporal field defect", "precocious puberty",
                    "failure to thrive", "nystagmus"],
    "deep": ["progressive hemiparesis", "headaches", "a movement disorder", "hemisensory symptoms"],
}
SITE_GROUP = {
    "frontal lobe": "hemisphere", "parietal lobe": "hemisphere", "temporal lobe": "hemisphere",
    "occipital lobe": "hemisphere", "thalamus": "deep", "basal ganglia": "deep", "suprasellar region": "suprasellar",
    "cerebellar hemisphere": "posterior fossa", "cerebellar vermis": "posterior fossa",
    "fourth ventricle": "posterior fossa", "pons": "brainstem", "medulla": "brainstem",
    "thalamus and midbrain": "deep", "tectum and pineal region": "posterior fossa",
    "superior vermis through the tentorial incisura": "posterior fossa",
}
TREATMENTS = ["post subtotal resection", "on chemotherapy (carboplatin and vincristine)", "on surveillance",
              "post biopsy", "on targeted therapy", "post gross total resection, surveillance for recurrence",
              "on vinblastine"]
CYST_WALLS = ["There is an enhancing mural nodule along its wall.", "The cyst wall does not enhance.",
              "There is a peripherally enhancing cyst wall."]
GROWTH = {0.8: "decreased in size", 0.9: "slightly decreased in size", 1.0: "stable in size",
          1.1: "slightly increased in size", 1.25: "increased in size"}  # current / prior size
OTHER_STATEMENTS = [
    "No susceptibility artefact to suggest haemorrhage or calcification.",
    "No leptomeningeal enhancement or drop metastases in the imaged spine.",
    "The remainder of the brain parenchyma is unremarkable, with myelination normal for age.",
    "Normal flow voids in the major intracranial vessels.",
    "No other intracranial lesion.",
    "The pituitary gland and craniocervical junction are normal.",
    "The orbits, paranasal sinuses and mastoid air cells are clear.",
]
CONTRAST_AGENTS = ["gadobutrol (Gadovist)", "Gadovist", "gadoterate (Dotarem)", "Magnevist"]


def format_date(rng: np.random.Generator, date: dt.date) -> str:
    """A date as one of the formats reports mix."""
    style = int(rng.integers(4))
    if style == 0:
        return date.isoformat()
    if style == 1:
        return date.strftime("%d/%m/%Y")
    if style == 2:
        return f"{date.strftime('%B')} {date.day}, {date.year}"
    return date.strftime("%d-%b-%Y")


def _pick(rng: np.random.Generator, options: list[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _a(phrase: str) -> str:
    """``phrase`` with its indefinite article."""
    return f"{'an' if phrase[0].lower() in 'aeiou' else 'a'} {phrase}"


def _size(extent_cm: tuple[float, float, float], axes: int) -> str:
    """'3.2 x 2.8 x 2.5 cm' (AP x TR x CC) or its two largest axial dimensions."""
    values = extent_cm if axes == 3 else extent_cm[:2]
    return " x ".join(f"{v:.1f}" for v in values) + " cm"


def marker_phrase(rng: np.random.Generator, case: Case) -> str:
    tumour = case.tumour
    key = tumour.marker if tumour.marker != "other" else tumour.marker_detail
    return _pick(rng, MARKER_PHRASES[key])


def _signal(case: Case) -> str:
    ratio = case.solid_to_white_matter
    grade = "markedly" if ratio > 2.2 else "moderately" if ratio > 1.6 else "mildly"
    texture = "homogeneously" if case.tumour.well_circumscribed else "heterogeneously"
    return f"{texture} {grade} hyperintense"


def _findings(rng: np.random.Generator, case: Case, prior_extent: tuple[float, float, float] | None) -> list[str]:
    t = case.tumour
    margin = _pick(rng, ["well-circumscribed", "well-defined", "sharply marginated"]) if t.well_circumscribed else \
        _pick(rng, ["ill-defined", "infiltrative", "poorly marginated"])
    if t.cystic:
        kind = _pick(rng, ["solid and cystic", "cystic and solid", "predominantly cystic"])
    else:
        kind = _pick(rng, ["solid", "predominantly solid", "T2 hyperintense"])
    size = _size(case.extent_cm, 3 if rng.random() < 0.6 else 2)
    where = t.site_name
    verb = _pick(rng, ["centred in", "arising from", "involving", "within"])
    lines = [f"There is {_a(margin)} {kind} mass {verb} the {where}, measuring {size}"
             + (" (AP x TR x CC)." if size.count("x") == 2 and rng.random() < 0.5 else ".")]
    if prior_extent is not None:
        lines[-1] = lines[-1][:-1] + f", previously {_size(prior_extent, 2)}."
    lines.append(f"The solid component is {_signal(case)} on T2 and FLAIR"
                 + (" with no restricted diffusion." if rng.random() < 0.6 else "."))
    if t.cystic:
        if case.cyst_to_white_matter > 1.3:
            lines.append("The cystic component does not suppress on FLAIR, in keeping with proteinaceous contents.")
        else:
            lines.append("The cystic component follows CSF signal and suppresses on FLAIR.")
        if rng.random() < 0.5:
            lines.append(_pick(rng, CYST_WALLS))
    if not t.well_circumscribed:
        lines.append(_pick(rng, ["Its margins blend with the adjacent white matter.",
                                 "The lesion extends along the white matter tracts without a clear plane.",
                                 "Signal abnormality extends beyond the enhancing portion."]))
    lines.append({"none": "There is no surrounding vasogenic oedema.",
                  "mild": "There is mild surrounding T2/FLAIR hyperintensity, likely oedema.",
                  "moderate": "There is moderate surrounding vasogenic oedema."}[t.oedema])
    group = SITE_GROUP[t.site]
    largest = max(case.extent_cm)
    if group == "posterior fossa" and largest > 3.5:
        horns = int(rng.integers(4, 12))
        lines.append(f"Mass effect on the fourth ventricle with {'moderate' if largest > 4.5 else 'mild'} obstructive "
                     f"hydrocephalus; the temporal horns measure {horns} mm.")
    elif group == "posterior fossa":
        lines.append("The fourth ventricle is mildly effaced without hydrocephalus.")
    elif group == "brainstem":
        lines.append("The brainstem is expanded; the basilar artery is not encased.")
    elif group == "suprasellar":
        lines.append(_pick(rng, ["The optic chiasm cannot be separated from the mass.",
                                 "The mass extends along the optic tracts."]))
    elif largest > 4.0:
        lines.append(f"There is {int(rng.integers(2, 8))} mm of midline shift.")
    if t.location == "transtentorial":
        lines.append("The lesion extends through the tentorial incisura.")
    statements = rng.permutation(len(OTHER_STATEMENTS))[: int(rng.integers(1, 5))]
    lines.extend(OTHER_STATEMENTS[i] for i in sorted(statements))
    return lines


def write_report(rng: np.random.Generator, case: Case) -> str:
    """The radiology report of ``case``'s scan (plain text with section headings and line breaks)."""
    t = case.tumour
    date = case.scan_date
    follow_up = rng.random() < 0.55
    tested = date.year >= TESTED_FROM_YEAR or rng.random() < 0.3
    names_marker = follow_up and tested and rng.random() < 0.7
    sex = {"F": "girl", "M": "boy"}[case.sex]
    age = int(case.age_years)
    age_text = f"{age}-year-old {sex}" if age >= 2 else f"{int(round(case.age_years * 12))}-month-old {sex}"
    diagnosis = t.histology if rng.random() < 0.7 else "low-grade glioma"
    marker = marker_phrase(rng, case) if names_marker else ""
    known = f"{marker} {diagnosis}".strip()

    prior_extent = None
    if follow_up:
        prior = date - dt.timedelta(days=int(rng.integers(90, 400)))
        growth = float(rng.choice(list(GROWTH)))  # current / prior size
        prior_extent = tuple(round(max(e / growth + float(rng.normal(0.0, 0.1)), 0.5), 1) for e in case.extent_cm)
        history = (f"{age_text} with known {known} of the {t.site_name}, {_pick(rng, TREATMENTS)}. "
                   f"Follow-up. Diagnosed {format_date(rng, prior - dt.timedelta(days=int(rng.integers(60, 900))))}.")
        comparison = f"MRI brain dated {format_date(rng, prior)}."
        trend = GROWTH[growth]
    else:
        history = f"{age_text} with {_pick(rng, SYMPTOMS[SITE_GROUP[t.site]])}. Query mass lesion."
        ct_date = format_date(rng, date - dt.timedelta(days=int(rng.integers(1, 20))))
        comparison = _pick(rng, ["None.", f"CT head from {ct_date} (outside hospital).", "No prior imaging available."])
        trend = ""

    field = f"{case.field_strength_t:g} T"
    weight_kg = 8.0 + 3.0 * case.age_years * float(rng.uniform(0.8, 1.2))
    dose = f"{0.1 * weight_kg:.1f} mL"  # 0.1 mmol/kg of a 1 M agent
    technique = (f"Multiplanar multisequence MRI of the brain on a {field} scanner, including sagittal 3D FLAIR with "
                 f"axial and coronal reformats, axial T2, DWI and SWI, before and after intravenous {dose} of "
                 f"{_pick(rng, CONTRAST_AGENTS)}.")

    impression_site = f"{t.site_name} mass"
    if follow_up:
        impression = [f"{impression_site[0].upper()}{impression_site[1:]}, {trend} compared with "
                      f"{format_date(rng, prior)}, in keeping with the known {known}."]
    else:
        differential = {
            "posterior fossa": "pilocytic astrocytoma; medulloblastoma is less likely given the signal characteristics",
            "brainstem": "low-grade glioma; diffuse midline glioma is less likely",
            "hemisphere": "ganglioglioma or other low-grade glioneuronal tumour",
            "suprasellar": "optic pathway/hypothalamic glioma",
            "deep": "low-grade glioma",
        }[SITE_GROUP[t.site]]
        impression = [f"{'Well-circumscribed' if t.well_circumscribed else 'Infiltrative'} "
                      f"{'cystic and solid' if t.cystic else 'solid'} {impression_site}, most in keeping with "
                      f"{_a(differential)}."]
    if SITE_GROUP[t.site] == "posterior fossa" and max(case.extent_cm) > 3.5:
        impression.append("Associated obstructive hydrocephalus.")
    if rng.random() < 0.3:
        impression.append("No new lesion.")

    sections = [
        f"EXAMINATION: {_pick(rng, EXAMINATIONS)}",
        f"DATE: {format_date(rng, date)}",
        "",
        f"CLINICAL HISTORY: {history}",
        "",
        f"TECHNIQUE: {technique}",
        "",
        f"COMPARISON: {comparison}",
        "",
        "FINDINGS:",
        " ".join(_findings(rng, case, prior_extent)),
        "",
        "IMPRESSION:",
        *(f"{n}. {line}" for n, line in enumerate(impression, start=1)),
    ]
    return "\n".join(sections)
