"""Radiology reports of the pathology cohort and the rule-based classifier that labels them.

Reports are short impressions in the style of paper 003 (Fig. 1, Tables 2-3): the main finding
with its location, negations ("No acute infarct."), incidental findings ("Mild periventricular
white matter changes (Fazekas grade I).") and the odd export artefact ("Page 1 of 1").

The class of a study as the dataset owner has it is not the truth but what a keyword classifier
with NegEx-style negation reads from the report (paper 003, section 2: "natural language
processing to extract a diagnosis"). :func:`report_class` is that classifier. Some reports are
written in a phrasing it misreads (a negation after the term, a hedge, a finding named without
its keyword), so the derived labels carry realistic noise; ``misread`` chooses those reports.
"""

from __future__ import annotations

import re

import numpy as np

from mrissl.phantoms.lesions import Lesion

CLASSES = ("infarct", "tumour", "haemorrhage", "normal", "other")
# The classifier: the first class (in this order) with a keyword in a sentence that does not negate it.
KEYWORDS = {
    "tumour": ("tumour", "tumor", "mass", "glioma", "meningioma", "adenoma", "metasta", "neoplas"),
    "haemorrhage": ("haemorrhag", "hemorrhag", "haematoma", "hematoma", "bleed"),
    "infarct": ("infarct",),
    "other": ("demyelinat", "cyst", "hydroceph"),
}
NEGATION_TRIGGERS = ("no ", "without", "negative for", "free of", "rule out")

FINDINGS = {
    "acute_infarct": [
        "Acute infarct in the {where} showing restricted diffusion.",
        "Area of diffusion restriction in the {where}, consistent with acute infarct.",
        "Acute ischaemic infarct involving the {where}.",
    ],
    "chronic_infarct": [
        "Chronic infarct in the {where} with surrounding gliosis.",
        "Old infarct with gliosis in the {where}.",
    ],
    "glioma": [
        "Ill-defined T2/FLAIR hyperintense mass in the {where} with surrounding vasogenic oedema, likely glioma.",
        "Intra-axial tumour in the {where} with perilesional oedema. Suggest post-contrast imaging.",
    ],
    "meningioma": [
        "Well-defined extra-axial lesion along the {where} with a broad dural base, likely meningioma.",
        "Extra-axial mass at the {where}, likely representing meningioma.",
    ],
    "pituitary_adenoma": [
        "Sellar and suprasellar lesion indenting on inferior aspect of optic chiasma, likely pituitary adenoma. "
        "Suggest: Post contrast imaging.",
        "Pituitary macroadenoma with suprasellar extension.",
    ],
    "metastases": [
        "Multiple lesions at the grey-white matter junction with perilesional oedema, the largest in the {where}, "
        "suggestive of metastases.",
        "Multiple enhancing intra-axial tumour deposits, largest in the {where}, likely metastatic.",
    ],
    "acute_haemorrhage": [
        "Acute intraparenchymal haematoma in the {where} with blooming on T2* and mild perilesional oedema.",
        "Acute haemorrhage in the {where}. No underlying mass lesion.",
    ],
    "subacute_haemorrhage": [
        "Subacute haematoma in the {where}, evolving.",
        "Late subacute haemorrhage in the {where} with a hemosiderin rim.",
    ],
    "demyelination": [
        "Multiple ovoid T2/FLAIR hyperintense lesions in the periventricular white matter, perpendicular to the "
        "ventricles, suggestive of demyelination.",
        "Periventricular and juxtacortical white matter lesions, likely demyelinating disease.",
    ],
    "arachnoid_cyst": [
        "CSF-intensity extra-axial lesion in the {where}, likely arachnoid cyst.",
        "Arachnoid cyst in the {where} with mild scalloping of the adjacent bone.",
    ],
    "small_vessel_disease": [
        "Mild periventricular white matter changes (Fazekas grade I).",
        "Few non-specific T2 FLAIR white matter hyperintensities are seen in bilateral frontal lobes.",
        "Scattered punctate white matter ischaemic changes.",
        "Mild small vessel ischemic changes.",
    ],
}
# The same findings in words the classifier has no keyword for.
UNRECOGNISED = {
    "acute_infarct": "Area of restricted diffusion in the {where}, in keeping with acute ischaemia.",
    "chronic_infarct": "Encephalomalacia with gliosis in the {where}, sequelae of old ischaemia.",
    "glioma": "Space-occupying lesion in the {where} with perilesional oedema; further characterisation advised.",
    "meningioma": "Dural-based lesion along the {where}; further characterisation with contrast advised.",
    "pituitary_adenoma": "Enlarged sella with a lesion abutting the optic chiasma; endocrine correlation advised.",
    "metastases": "Multiple ring lesions with oedema, largest in the {where}; known primary?",
    "acute_haemorrhage": "Blooming focus on T2* in the {where}, in keeping with blood products.",
    "subacute_haemorrhage": "T1 hyperintense, T2* hypointense focus in the {where}, blood products.",
    "demyelination": "Multiple ovoid periventricular white matter lesions with Dawson finger configuration.",
    "arachnoid_cyst": "Extra-axial CSF-intensity space in the {where}, likely developmental.",
}
# Phrasings that make the classifier see a class that is not there (negation after the term, a hedge).
SPURIOUS = [
    "Haemorrhage is not seen.",
    "A small acute infarct cannot be excluded; suggest follow-up.",
    "Tiny pineal cyst, of no significance.",
    "Mass effect is not present.",
]
NORMAL = [
    "No significant abnormality is seen in the brain.",
    "Normal study of brain.",
    "Normal MRI brain.",
    "Brain parenchyma is normal in signal and morphology.",
]
NEGATIONS = {  # sentence -> the classes it may not appear in (it would contradict them)
    "No acute infarct.": ("infarct",),
    "No acute infarcts / haemorrhage / focal lesions.": ("infarct", "haemorrhage", "tumour", "other"),
    "No intracranial haemorrhage.": ("haemorrhage",),
    "No space-occupying lesion.": ("tumour",),
    "No mass effect or midline shift.": (),
    "No hydrocephalus.": (),
    "Ventricles and sulci are normal for age.": (),
    "Intracranial flow voids are maintained.": (),
}
INCIDENTAL_TEXT = ["Left maxillary sinusitis.", "Mucosal thickening in the right maxillary sinus.",
                   "Age related cerebral atrophy.", "Vascular loop of the right anterior inferior cerebellar artery."]


def _pick(rng: np.random.Generator, options: list[str]) -> str:
    return options[int(rng.integers(len(options)))]


def write_report(
    rng: np.random.Generator, label: str, main: Lesion | None, incidental: list[Lesion], misread: bool
) -> str:
    """The report of a study of class ``label`` with finding ``main`` and ``incidental`` lesions.

    ``misread``: write one sentence so that :func:`report_class` gets the class wrong (the main
    finding without its keyword, or a spurious class term the classifier takes as positive).
    """
    # Spurious terms must outrank the true class: the classifier takes the first class it finds.
    order = list(KEYWORDS)
    rank = order.index(label) if label in order else len(order)
    spurious = [s for s in SPURIOUS if order.index(report_class(s)) < rank]
    sentences = []
    if main is not None:
        if misread and (not spurious or rng.random() < 0.7):
            sentences.append(UNRECOGNISED[main.kind].format(where=main.location))
            misread = False
        else:
            sentences.append(_pick(rng, FINDINGS[main.kind]).format(where=main.location))
    else:
        sentences.append(_pick(rng, NORMAL))
    allowed = [s for s, excluded in NEGATIONS.items() if label not in excluded]
    for index in rng.choice(len(allowed), size=int(rng.integers(0, 3)), replace=False):
        sentences.append(allowed[int(index)])
    for lesion in incidental:
        sentences.append(_pick(rng, FINDINGS[lesion.kind]))
    if rng.random() < 0.2:
        sentences.append(_pick(rng, INCIDENTAL_TEXT))
    if misread:
        sentences.insert(int(rng.integers(1, len(sentences) + 1)), _pick(rng, spurious))
    if rng.random() < 0.05:
        sentences.append(_pick(rng, ["Page 1 of 1", "Page 2 of 2", "Kindly correlate clinically."]))
    return " ".join(sentences)


def _sentences(text: str) -> list[str]:
    return [s.strip().lower() for s in re.split(r"(?<=[.;])\s+", text) if s.strip()]


def report_class(report: str) -> str:
    """The class a keyword classifier with negation handling reads from ``report``.

    A keyword counts when no negation trigger precedes it in its sentence; classes are tried in
    the order of ``KEYWORDS`` (tumour, haemorrhage, infarct, other), ``normal`` when none counts.
    """
    positive = set()
    for sentence in _sentences(report):
        for label, words in KEYWORDS.items():
            for word in words:
                at = sentence.find(word)
                if at >= 0 and not any(trigger in sentence[:at] for trigger in NEGATION_TRIGGERS):
                    positive.add(label)
    return next((label for label in KEYWORDS if label in positive), "normal")
