"""De-identification: which DICOM attributes identify, and scrubbing of the free text that is kept.

The pipeline keeps an allow-list of header fields (the manifest's acquisition columns, see
:data:`mrissl.ingest.HEADER_SOURCES`) and drops everything else. What counts as identifying is
DICOM PS3.15 Annex E, Table E.1-1 (Basic Application Level Confidentiality Profile): every
attribute the table lists, and every private attribute (the profile removes them all unless the
Retain Safe Private Option keeps a known-safe one, as ingest does for the b-value, decoded).

- The table itself comes from dicom-anonymizer (KitwareMedical, PyPI ``dicom-anonymizer``),
  whose ``dicom_anonymization_databases.dicomfields_2026c`` is generated from the 2026c edition
  of the standard (its tag lists per basic-profile action; ``ALL_TAGS`` is their union, a few
  entries with group masks such as overlay comments ``60xx,4000``). The pydicom project's
  ``deid`` package was considered: its default recipe is a hand-curated list (and it pulls
  matplotlib), not the standard's table; pydicom itself ships no confidentiality profile.
- The Clean Descriptors Option column, which that table lacks, is in
  ``data/ps3_15_clean_descriptors.tsv`` (source named in the file). Those attributes are free
  text (series description, protocol name, comments): the two the manifest keeps are cleaned,
  and their values are never used to clean other text (they hold clinical words, not identities).

Free text is cleaned by :func:`redactor`: every word of every identifying value of the same file
(names, IDs, dates, UIDs, station, institution, serial numbers, ...) is removed wherever it
appears as a whole word, in any case.

Reports (paper 003 feeds them to its text encoder) are cleaned by :func:`scrub_report`, which
knows no header: it removes what radiology reports carry as identifiers by their form (names
after a title or a label, dates and times, record numbers), keeping the clinical wording, sizes,
b-values and ages. Model-based scrubbers (presidio, philter) need NER models that cannot be
downloaded here; the patterns below cover the identifiers HIPAA Safe Harbor lists for text that
a report holds (names, dates other than the year, record and account numbers, phone numbers,
e-mail addresses).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from functools import cache
from importlib import resources

import pydicom
from pydicom.tag import BaseTag, Tag

REDACTED = "[redacted]"

# Value representations stored as binary numbers or bytes: nothing a text holds as a word. (DS and
# IS are numbers written as text, e.g. the patient's weight: they count.)
BINARY_VRS = frozenset({"AT", "FD", "FL", "OB", "OD", "OF", "OL", "OV", "OW", "SL", "SS", "SV", "UL", "UN", "US", "UV"})


@cache
def identifying_tags() -> tuple[frozenset[int], tuple[tuple[int, int, int, int], ...]]:
    """PS3.15 Table E.1-1: (exact tags, (group, element, group mask, element mask) patterns)."""
    # Imported here: only the DICOM ingest (the curate env) needs the table, not report scrubbing.
    from dicomanonymizer.dicom_anonymization_databases import dicomfields_2026c as ps3_15_table

    exact = frozenset(Tag(group, element) for group, element, *mask in ps3_15_table.ALL_TAGS if not mask)
    masked = tuple(entry for entry in ps3_15_table.ALL_TAGS if len(entry) == 4)
    return exact, masked


@cache
def clean_descriptor_tags() -> frozenset[int]:
    """The attributes of Table E.1-1 that the Clean Descriptors Option cleans (free-text descriptors)."""
    text = resources.files("mrissl").joinpath("data/ps3_15_clean_descriptors.tsv").read_text()
    rows = csv.DictReader((line for line in text.splitlines() if not line.startswith("#")), delimiter="\t")
    return frozenset(Tag(*(int(part, 16) for part in row["tag"].strip("()").split(","))) for row in rows)


def is_identifying(tag: BaseTag) -> bool:
    """Whether PS3.15's basic profile removes or replaces this attribute (private ones included)."""
    tag = Tag(tag)
    if tag.is_private:
        return True
    exact, masked = identifying_tags()
    if tag in exact:
        return True
    return any(tag.group & group_mask == group and tag.element & element_mask == element
               for group, element, group_mask, element_mask in masked)


def _text_values(element: pydicom.DataElement) -> Iterator[str]:
    if element.VR in BINARY_VRS or element.VR == "SQ" or element.value is None:
        return
    values = element.value if isinstance(element.value, pydicom.multival.MultiValue) else [element.value]
    yield from (str(value).strip() for value in values if str(value).strip())


def _stored_vr(ds: pydicom.Dataset, tag: BaseTag) -> str:
    """The VR of ``tag`` in ``ds`` without converting its value (the dictionary's for implicit VR files)."""
    vr = ds.get_item(tag).VR
    if vr is None:
        try:
            vr = pydicom.datadict.dictionary_VR(tag)
        except KeyError:
            vr = "UN"
    return vr


def identifying_values(datasets: Iterable[pydicom.Dataset]) -> list[str]:
    """The text values of every public PS3.15 attribute in ``datasets`` (file meta and sequences too), descriptors excepted.

    Inside a sequence the profile lists, every text value counts (the items of an Institution
    Code Sequence or a Referring Physician Identification Sequence identify whatever their own
    tags are). Private values are never copied, so they need no cleaning.
    """
    descriptors = clean_descriptor_tags()
    found: set[str] = set()

    def visit(ds: pydicom.Dataset, inside_identifying: bool) -> None:
        for tag in ds.keys():
            if tag.is_private or tag in descriptors:
                continue
            identifying = inside_identifying or is_identifying(tag)
            if not identifying and _stored_vr(ds, tag) != "SQ":
                continue  # left unconverted (pixel data among them): nothing in it to collect
            try:
                element = ds[tag]  # pydicom converts values lazily: a malformed one raises here
            except Exception:
                raw = ds.get_item(tag).value
                if identifying and isinstance(raw, bytes):
                    found.update(v.strip() for v in raw.decode("latin-1").split("\\") if v.strip())
                continue
            if element.VR == "SQ":
                for item in element.value or []:
                    visit(item, identifying)
            elif identifying:
                found.update(_text_values(element))

    for ds in datasets:
        visit(ds.get("file_meta", pydicom.Dataset()), False)  # (0002,0003) repeats the SOP Instance UID
        visit(ds, False)
    return sorted(found)


def redactor(values: Iterable[str]):
    """A function replacing each value, and each word of it (>= 2 characters), by ``[redacted]``.

    Whole words, any case; longest first, so a full name goes before its parts.
    """
    words = {w.strip() for v in values for w in [v, *re.split(r"[\^=\s,\\]+", v)]}
    words = sorted((w for w in words if len(w) >= 2), key=len, reverse=True)
    if not words:
        return lambda text: text
    pattern = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, words)) + r")(?!\w)", re.IGNORECASE)
    return lambda text: pattern.sub(REDACTED, text)


# ---------------------------------------------------------------------------------------------
# Reports

_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
          r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
# Words that follow a name in a report header line and are no part of it ("Jane Doe, MRN: ...").
_NOT_A_NAME = r"(?:MRN|ID|DOB|NHS|Accession|Age|Sex|Date|Dr|On|At)\b"
# A person's name as reports write it: capitalised words or initials ("Jane Doe", "J. Doe",
# "DOE, Jane"), or the DICOM form "DOE^JANE".
_NAME = (r"(?:[A-Z][A-Za-z'\-]*\^[A-Za-z'\^\-]+|[A-Z](?:[A-Za-z'\-]+|\.)"
         rf"(?:,?[ \t]+(?!{_NOT_A_NAME})(?:[A-Z]\.|[A-Z][A-Za-z'\-]+)){{0,3}})")
_TITLE = r"(?:Dr|Doctor|Prof|Professor|Mr|Mrs|Ms|Miss|Mx)\.?"
# Labels a name follows after a colon ("Radiologist: ..."), and phrases it follows directly ("reported by ...").
_ROLE_LABEL = (r"(?i:patient(?:'s)?[ \t]+name|name|patient|referring(?:[ \t]+(?:physician|doctor|clinician|"
               r"consultant))?|radiologist|consultant|physician|clinician|radiographer|technologist|attending)")
_BY_LABEL = (r"(?i:(?:reported|dictated|typed|verified|approved|requested|transcribed|referred|"
             r"(?:electronically[ \t]+)?signed(?:[ \t]+electronically)?)[ \t]+by|"
             r"(?:discussed|communicated|conveyed)[ \t]+(?:with|to))")
_ID_LABEL = (r"(?:(?i:mrn|medical[ \t]+record(?:[ \t]+(?:number|no\.?))?|accession(?:[ \t]+(?:number|no\.?))?|"
             r"(?:hospital|record|nhs|case|patient|study|reference|ref)[ \t]*(?:number|no\.?|id|#))|ID)(?![A-Za-z])")
_ID = r"[A-Za-z0-9][A-Za-z0-9\-/]*\d[A-Za-z0-9\-/]*"

# (pattern, replacement), applied in this order: labelled values first, then forms anywhere.
REPORT_IDENTIFIERS = [
    (re.compile(rf"(?<![\w-])({_ID_LABEL}[ \t]*[:#=]?[ \t]*){_ID}"), r"\1[id]"),
    (re.compile(rf"(?<![\w-])({_ROLE_LABEL}[ \t]*:[ \t]*)(?:{_TITLE}[ \t]+)?{_NAME}"), r"\1[name]"),
    (re.compile(rf"(?<![\w-])({_BY_LABEL}[ \t]*:?[ \t]*)(?:{_TITLE}[ \t]+)?{_NAME}"), r"\1[name]"),
    (re.compile(rf"\b{_TITLE}[ \t]+{_NAME}"), "[name]"),
    (re.compile(r"\b\d{4}[/.\-]\d{1,2}[/.\-]\d{1,2}(?:[T ]\d{1,2}:\d{2}(?::\d{2})?)?\b"), "[date]"),
    (re.compile(r"\b\d{1,2}[/.\-]\d{1,2}[/.\-](?:\d{4}|\d{2})\b"), "[date]"),
    (re.compile(r"\b(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\b"), "[date]"),
    (re.compile(rf"(?i)\b{_DAY}[ \t\-]+(?:of[ \t]+)?{_MONTH}\.?[ \t,\-]+\d{{2,4}}\b"), "[date]"),
    (re.compile(rf"(?i)\b{_MONTH}\.?[ \t]+{_DAY},?[ \t]+\d{{4}}\b"), "[date]"),
    (re.compile(rf"(?i)\b{_MONTH}\.?[ \t,]+\d{{4}}\b"), "[date]"),
    (re.compile(rf"(?i)\b{_MONTH}\.?[ \t]+{_DAY}\b(?![ \t]*(?:mm|cm|ml|%))"), "[date]"),
    (re.compile(r"(?i)\b\d{1,2}:\d{2}(?::\d{2})?(?:[ \t]*[ap]\.?m\b\.?)?"), "[time]"),
    (re.compile(r"\b[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+\b"), "[id]"),
    (re.compile(r"(?<![\w.])\+?\d{2,5}[ \t\-]\d{3,4}[ \t\-]\d{3,4}(?![\w.])"), "[id]"),
    (re.compile(r"\b[A-Za-z]{0,4}-?\d{6,}\b"), "[id]"),
]


def scrub_report(text: str) -> str:
    """``text`` with names, dates, times and record numbers replaced by ``[name]``, ``[date]``, ``[time]``, ``[id]``.

    Years on their own, ages ("45-year-old"), sizes ("12 mm"), b-values ("b=1000") and grades stay.
    """
    for pattern, replacement in REPORT_IDENTIFIERS:
        text = pattern.sub(replacement, text)
    return text
