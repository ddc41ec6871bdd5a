"""Baseline: the sequence class from DICOM header fields alone, no pixels.

The classic way to sort series is by their header (Liang et al. 2021, the paper's ref. 8): the
free-text descriptions (character n-grams, robust to vendor spellings such as ``t2_tse_tra`` vs
``T2W TSE``), the timing parameters, and the coded sequence / image type. A random forest over
those, trained on the training split's series, shows how far headers go and where they fail
(the phantoms mislabel some descriptions on purpose, as busy technologists do).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline

from mrissl.seqclass import SEQUENCE_CLASSES
from mrissl.seqclass.finetune import ClassificationMetrics, classification_metrics

HEADER_TEXT = ["series_description", "protocol_name"]
HEADER_NUMERIC = ["repetition_time_ms", "echo_time_ms", "inversion_time_ms", "flip_angle_deg", "b_value"]
HEADER_CODES = ["scanning_sequence", "image_type"]  # multi-valued DICOM codes such as "SE\\IR"


@dataclass
class HeaderBaselineResult:
    series: ClassificationMetrics     # one vote per test series
    slices: ClassificationMetrics     # each test slice counted with its series' prediction
    predictions: pd.DataFrame         # series_key, label, predicted, n_slices


def series_table(manifest: pd.DataFrame, slice_index: pd.DataFrame) -> pd.DataFrame:
    """One row per series of ``slice_index``: its header fields, label and number of slices."""
    per_series = slice_index.groupby("series_key", sort=True).agg(label=("label", "first"),
                                                                  n_labels=("label", "nunique"),
                                                                  n_slices=("row", "size"))
    mixed = per_series.index[per_series["n_labels"] > 1].tolist()
    if mixed:
        raise ValueError(f"series {mixed[:5]} have slices with different labels in the slice index")
    headers = manifest.drop(columns="label").drop_duplicates("series_key").set_index("series_key")
    absent = per_series.index.difference(headers.index).tolist()
    if absent:
        raise ValueError(f"series {absent[:5]} of the slice index are not in the manifest; "
                         "the manifest and the curated slices come from different runs")
    table = per_series.drop(columns="n_labels").join(headers[HEADER_TEXT + HEADER_NUMERIC + HEADER_CODES])
    table[HEADER_TEXT + HEADER_CODES] = table[HEADER_TEXT + HEADER_CODES].fillna("").astype(str)
    for column in HEADER_NUMERIC:
        try:
            table[column] = pd.to_numeric(table[column])
        except ValueError as err:
            raise ValueError(f"manifest column {column} holds a non-number: {err}") from err
    return table.reset_index()


def header_classifier(seed: int, text_fields: list[str] = HEADER_TEXT, code_fields: list[str] = HEADER_CODES,
                      numeric_fields: list[str] = HEADER_NUMERIC) -> Pipeline:
    """Header fields -> features (ColumnTransformer) -> random forest; a subset of the fields shows
    what each kind contributes (bench/seqclass_header_fields.py)."""
    def text() -> TfidfVectorizer:
        return TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), lowercase=True)

    def codes() -> CountVectorizer:
        return CountVectorizer(token_pattern=r"[A-Za-z0-9]+", lowercase=False, binary=True)

    features = ColumnTransformer(
        [(column, text(), column) for column in text_fields]
        + [(column, codes(), column) for column in code_fields]
        # Absent timings (no inversion pulse, no diffusion) are informative: keep an indicator.
        + ([("timings", SimpleImputer(strategy="constant", fill_value=-1.0, add_indicator=True,
                                      keep_empty_features=True), numeric_fields)] if numeric_fields else [])
    )
    forest = RandomForestClassifier(n_estimators=300, random_state=seed, n_jobs=1)
    return Pipeline([("features", features), ("forest", forest)])


def header_baseline(manifest: pd.DataFrame, train_index: pd.DataFrame, test_index: pd.DataFrame, seed: int,
                    classes: tuple[str, ...] = SEQUENCE_CLASSES) -> HeaderBaselineResult:
    """Fit on the training split's series, report accuracy on the test split per series and per slice."""
    class_id = {name: i for i, name in enumerate(classes)}
    train, test = series_table(manifest, train_index), series_table(manifest, test_index)
    unknown = sorted((set(train["label"]) | set(test["label"])) - set(classes))
    if unknown:
        raise ValueError(f"slice indexes have labels {unknown} outside the classes {list(classes)}")
    model = header_classifier(seed).fit(train, train["label"].map(class_id).to_numpy())
    predicted = model.predict(test)
    truth = test["label"].map(class_id).to_numpy()
    slice_weights = test["n_slices"].to_numpy()
    return HeaderBaselineResult(
        series=classification_metrics(truth, predicted, classes),
        slices=classification_metrics(np.repeat(truth, slice_weights), np.repeat(predicted, slice_weights), classes),
        predictions=pd.DataFrame({"series_key": test["series_key"], "label": test["label"],
                                  "predicted": [classes[i] for i in predicted], "n_slices": slice_weights}),
    )
