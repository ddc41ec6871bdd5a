"""Zero-shot classification of study ``clip`` and its baselines (beyond paper 003, which names it as
the use to come and trained, without reporting them, an image-only and a text-only classifier).

One prompt per class (``clip.zeroshot.prompts``; the normal one is the paper's Table 2 query "No
significant abnormality is seen in the brain."): each test image takes the class whose prompt's
embedding is most similar to its own. Accuracy, balanced accuracy and per-class recall are
measured against the report-derived classes (what the model could learn from) and, separately,
against the phantom's true classes: the gap shows how label noise moves the figure. Beside it:

* image-only: the same 3D U-Net encoder with a linear layer trained on the report-derived classes
  (``mrissl.clip.train.train_image_classifier``), same splits, optimiser and best epoch;
* text-only: a logistic regression on the frozen encoder's features of the training reports
  (scikit-learn), applied to the test reports;
* majority: the training split's most frequent report-derived class.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, balanced_accuracy_score, recall_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

DEFAULT_PROMPTS = {
    "normal": "No significant abnormality is seen in the brain.",
    "infarct": "Acute infarct showing restricted diffusion.",
    "tumour": "Intra-axial mass with surrounding oedema, likely tumour.",
    "haemorrhage": "Acute intraparenchymal haemorrhage with blooming on T2*.",
    "other": "Periventricular white matter lesions, likely demyelination.",
}


def zero_shot_predict(image_embeddings: np.ndarray, prompt_embeddings: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """The class of the most similar prompt for each image (embeddings L2-normalised, one prompt per class)."""
    if len(prompt_embeddings) != len(classes):
        raise ValueError(f"{len(prompt_embeddings)} prompt embeddings for {len(classes)} classes")
    return np.asarray(classes, dtype=object)[np.argmax(image_embeddings @ prompt_embeddings.T, axis=1)]


def text_baseline(train_features: np.ndarray, train_labels: Sequence[str], test_features: np.ndarray,
                  seed: int) -> np.ndarray:
    """Text-only classifier: logistic regression on the standardised frozen text features."""
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))
    classifier.fit(train_features, np.asarray(train_labels, dtype=object))
    return classifier.predict(test_features)


def majority_baseline(train_labels: Sequence[str], n: int) -> np.ndarray:
    """The training split's most frequent class (ties: the first in sorted order), ``n`` times."""
    counts = pd.Series(np.asarray(train_labels, dtype=object)).value_counts()
    return np.array([sorted(counts.index[counts == counts.max()])[0]] * n, dtype=object)


def classification_scores(predicted: Sequence[str], reference: Sequence[str], classes: Sequence[str]) -> dict[str, float]:
    """Accuracy, balanced accuracy (over the classes present) and recall of each class (NaN where absent)."""
    predicted, reference = np.asarray(predicted, dtype=object), np.asarray(reference, dtype=object)
    scores = {"accuracy": accuracy_score(reference, predicted),
              "balanced_accuracy": balanced_accuracy_score(reference, predicted)}
    recalls = recall_score(reference, predicted, labels=list(classes), average=None, zero_division=0)
    for cls, recall in zip(classes, recalls):
        scores[f"recall_{cls}"] = float(recall) if (reference == cls).any() else float("nan")
    return scores


def zeroshot_table(predictions: Mapping[str, Sequence[str]], references: Mapping[str, Sequence[str]],
                   classes: Sequence[str]) -> pd.DataFrame:
    """One row per (method, reference): ``predictions`` method -> predicted classes of the test
    studies, ``references`` name (report-derived, true) -> their classes in the same order."""
    rows = []
    for method, predicted in predictions.items():
        for reference, truth in references.items():
            rows.append({"method": method, "reference": reference, "studies": len(truth),
                         **classification_scores(predicted, truth, classes)})
    return pd.DataFrame(rows)


def zeroshot_evaluation(embeddings: Mapping[str, np.ndarray], index: pd.DataFrame, splits: pd.DataFrame,
                        text_features: np.ndarray, image_baseline: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The zero-shot table of the test split: CLIP zero-shot, image-only, text-only and majority,
    each against the report-derived and the true classes.

    ``embeddings`` as ``mrissl.clip.train.embed_test_set`` gives them; ``text_features`` the frozen
    features of every index row; ``image_baseline`` the image-only test predictions (study_key, predicted).
    """
    by_key = index.set_index("study_key")
    test_keys = [str(k) for k in embeddings["test_study_keys"]]
    train_keys = splits.loc[splits["split"] == "train", "study_key"].astype(str)
    train_keys = [k for k in train_keys if pd.notna(by_key.loc[k, "report_class"])]
    classes = [str(c) for c in embeddings["prompt_classes"]]
    rows_of = by_key["row"]
    image_predicted = image_baseline.set_index("study_key").loc[test_keys, "predicted"].to_numpy()
    predictions = {
        "CLIP zero-shot (prompts)": zero_shot_predict(embeddings["image"], embeddings["prompts"], classes),
        "image-only (3D U-Net encoder)": image_predicted,
        "text-only (logistic regression)": text_baseline(
            text_features[rows_of.loc[train_keys].to_numpy()], by_key.loc[train_keys, "report_class"],
            text_features[rows_of.loc[test_keys].to_numpy()], seed),
        "majority class": majority_baseline(by_key.loc[train_keys, "report_class"], len(test_keys)),
    }
    references = {"report-derived": by_key.loc[test_keys, "report_class"].fillna("unlabelled").to_numpy(),
                  "true": by_key.loc[test_keys, "true_class"].fillna("unknown").to_numpy()}
    return zeroshot_table(predictions, references, classes)
