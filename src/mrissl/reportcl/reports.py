"""Radiology report cleaning for MRI-report contrastive learning (paper 001, Data section).

"For radiology report cleaning, we removed all dates, numbers, punctuation marks, and any words or
phrases containing genetic marker labels to avoid data leakage." In that order here:

1. dates in every written form (2015-03-12, 12/03/2015, 12.03.15, March 12, 2015, 12-Mar-2015,
   12th of March 2015, Mar 2015);
2. phrases that name a genetic marker: a run of marker names (BRAF, KIAA1549, V600E, p.V600E,
   c.1799T>A, FGFR1, MYB, NF1, NTRK, H3 K27M, IDH, ...) and marker qualifiers (fusion, mutated,
   wild-type, positive, negative, rearranged, duplication, status, ...) joined by spaces, hyphens,
   colons, slashes, brackets and "and"/"or", with a leading "positive/negative for (the)":
   "negative for BRAF V600E mutation and KIAA1549-BRAF fusion" goes as a whole. Then words that
   name a marker status on their own (fusion, mutation, mutated, mutant, wild-type, rearranged, ...);
3. numbers with their measurement: "3.2 x 2.8 x 2.5 cm", "4.5 mL", "1.5 T", "6 mm";
4. punctuation; then any remaining word with a digit in it ("3D", "b1000"), except the sequence
   names T1 and T2, which are words to a radiologist, not numbers.

Histology (pilocytic astrocytoma, ganglioglioma) is not a marker label and stays, as in the paper.
The cleaned text is tokenised for the configured text encoder (``mrissl.text_encoders``).
"""

from __future__ import annotations

import logging
import re

import numpy as np
import pandas as pd

from mrissl.text_encoders import load_tokenizer

log = logging.getLogger(__name__)

MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
         r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
DAY = r"\d{1,2}(?:st|nd|rd|th)?"
DATE = re.compile(
    r"\b(?:"
    r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}"                                # 2015-03-12
    r"|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}"                             # 12/03/2015, 12.03.15
    rf"|(?:{DAY}[\s-]+(?:of\s+)?)?{MONTH}[\s-]+(?:{DAY},?[\s-]+)?\d{{4}}"  # 12 March 2015, March 12, 2015, Mar 2015
    rf"|{MONTH}\s+{DAY}\b"                                          # March 12
    rf"|{DAY}[\s-]+(?:of\s+)?{MONTH}(?![a-z])"                      # 12-Mar, 12th of March
    r")",
    re.IGNORECASE,
)
# Names of genes, variants and syndromes that define pLGG molecular groups (and the VE1 antibody).
MARKER_NAMES = (
    r"b-?raf\w*", r"kiaa\s?1549\w*", r"v600\w*", r"val600glu", r"[pc]\.\s?[a-z]{0,3}\d+[\w>*]*", r"fgfr\d?\w*",
    r"ntrk\d?\w*", r"mybl?\d?\w*", r"nf-?1", r"neurofibromatosis", r"h3\s?k27m?\w*", r"idh\d?\w*",
    r"cdkn2[ab]?\w*", r"alk", r"ros1", r"raf1", r"mapk\w*", r"ve1",
)
# Words that qualify a marker inside a marker phrase ("... fusion positive", "... status").
MARKER_QUALIFIERS = (
    r"fusions?", r"fused", r"mutations?", r"mutated", r"mutants?", r"mutational", r"altered", r"alterations?",
    r"rearranged", r"rearrangements?", r"tandem", r"duplications?", r"amplifi\w+", r"deleted", r"deletions?",
    r"positive", r"negative", r"status", r"genes?", r"wild[\s-]?type", r"related", r"associated", r"driven",
    r"type\s+(?:1|i)\b", r"testing", r"expression", r"immunohistochemistry", r"ihc",
)
# Words that name a marker status wherever they stand.
MARKER_WORDS = (
    r"fusions?", r"fused", r"mutations?", r"mutated", r"mutants?", r"mutational", r"wild[\s-]?type",
    r"rearranged", r"rearrangements?", r"tandem\s+duplications?",
)
_NAME = "(?:" + "|".join(MARKER_NAMES) + ")"
_UNIT = "(?:" + "|".join(MARKER_NAMES + MARKER_QUALIFIERS) + ")"
_JOIN = r"[\s\-:/()\[\],]*(?:(?:and|or)\s+)?"
MARKER_PHRASE = re.compile(
    rf"(?:\b(?:positive|negative)\s+for\s+(?:the\s+)?)?(?:\b(?:{'|'.join(MARKER_QUALIFIERS)})[\s\-]+)*"
    rf"\b{_NAME}(?![a-z0-9])(?:{_JOIN}\b{_UNIT}(?![a-z0-9]))*",
    re.IGNORECASE,
)
MARKER_WORD = re.compile(rf"\b(?:{'|'.join(MARKER_WORDS)})\b", re.IGNORECASE)
NUMBER = re.compile(
    r"(?<![\w.])\d+(?:[.,]\d+)?(?:\s*(?:x|×|by)\s*\d+(?:[.,]\d+)?)*"
    r"(?:\s*(?:cm|mm|ml|t|tesla|%|kg|mmol/kg|years?|months?|y|mo)\b)?(?!\w)",  # "3D" is a word (step 4)
    re.IGNORECASE,
)
PUNCTUATION = re.compile(r"[^\w\s]|_")
KEPT_DIGIT_WORDS = {"t1", "t2"}
CLEAN_COLUMNS = ["row", "patient_key", "text", "n_words", "n_tokens"]


def clean_report(text: str) -> str:
    """``text`` without dates, marker phrases and words, numbers and punctuation, on one line."""
    text = DATE.sub(" ", text)
    text = MARKER_PHRASE.sub(" ", text)
    text = MARKER_WORD.sub(" ", text)
    text = NUMBER.sub(" ", text)
    text = PUNCTUATION.sub(" ", text)
    words = [w for w in text.split() if not any(c.isdigit() for c in w) or w.lower() in KEPT_DIGIT_WORDS]
    return " ".join(words)


def tokenise(texts: list[str], encoder: str, max_length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Token ids (int32) and attention masks (uint8), padded/truncated to ``max_length``, and each text's
    untruncated token count (special tokens included)."""
    tokenizer = load_tokenizer(encoder)
    if max_length > tokenizer.model_max_length:
        raise ValueError(f"reportcl.max_length {max_length} exceeds what {encoder!r} accepts "
                         f"({tokenizer.model_max_length} tokens)")
    batch = tokenizer(texts, padding="max_length", truncation=True, max_length=max_length, return_tensors="np")
    counts = np.array([len(ids) for ids in tokenizer(texts, truncation=False, verbose=False)["input_ids"]])
    return batch["input_ids"].astype(np.int32), batch["attention_mask"].astype(np.uint8), counts


def clean_reports(
    reports: pd.DataFrame, index: pd.DataFrame, encoder: str, max_length: int
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Cleaned, tokenised reports in the order of the image ``index``, one per patient that has both.

    ``reports`` has ``patient_key`` and ``report``; ``index`` the image index (``row``, ``patient_key``).
    Returns the table (CLEAN_COLUMNS: ``row`` is the image row), token ids and attention masks whose
    rows follow the table.
    """
    duplicated = reports["patient_key"].duplicated()
    if duplicated.any():
        raise ValueError(f"{int(duplicated.sum())} patients have more than one report; keep one report per patient")
    paired = index[["row", "patient_key"]].merge(reports[["patient_key", "report"]], on="patient_key", how="inner")
    paired = paired.sort_values("row", ignore_index=True)
    if paired.empty:
        raise ValueError("no report matches an image of the index: are reports and images from the same cohort "
                         "and keyed with the same salt?")
    unmatched = len(index) - len(paired)
    if unmatched:
        log.warning("%d images have no report; they are left out of the report table", unmatched)
    texts = [clean_report(t) for t in paired["report"]]
    ids, attention, counts = tokenise(texts, encoder, max_length)
    table = paired[["row", "patient_key"]].assign(
        text=texts, n_words=[len(t.split()) for t in texts], n_tokens=counts,
    )
    truncated = int((counts > max_length).sum())
    log.info("%d reports cleaned; %d longer than max_length %d tokens (truncated)", len(table), truncated, max_length)
    return table[CLEAN_COLUMNS], ids, attention
