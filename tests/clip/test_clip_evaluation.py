"""Zero-shot classification, the baselines and the tables of study clip on hand-made inputs."""

import numpy as np
import pandas as pd
import pytest

from mrissl.clip.tables import query_table, rank1_table, split_class_table
from mrissl.clip.zeroshot import (
    classification_scores,
    majority_baseline,
    text_baseline,
    zero_shot_predict,
    zeroshot_table,
)

CLASSES = ["normal", "infarct", "tumour"]


def test_zero_shot_takes_the_most_similar_prompt():
    prompts = np.eye(3)
    images = np.array([[0.9, 0.1, 0.0], [0.0, 0.2, 0.8], [0.1, 0.7, 0.3], [0.6, 0.0, 0.5]])
    assert zero_shot_predict(images, prompts, CLASSES).tolist() == ["normal", "tumour", "infarct", "normal"]
    with pytest.raises(ValueError):
        zero_shot_predict(images, prompts[:2], CLASSES)


def test_scores_and_label_noise_rows():
    predicted = ["normal", "tumour", "infarct", "normal"]
    reported = ["normal", "tumour", "tumour", "infarct"]   # what the reports say
    true = ["normal", "tumour", "infarct", "infarct"]      # what the phantom drew
    scores = classification_scores(predicted, reported, CLASSES)
    assert scores["accuracy"] == 0.5
    assert scores["recall_normal"] == 1.0 and scores["recall_infarct"] == 0.0 and scores["recall_tumour"] == 0.5
    assert scores["balanced_accuracy"] == pytest.approx(0.5)
    table = zeroshot_table({"zero-shot": predicted}, {"report-derived": reported, "true": true}, CLASSES)
    assert table["reference"].tolist() == ["report-derived", "true"]
    assert table["accuracy"].tolist() == [0.5, 0.75]
    absent = classification_scores(["normal", "infarct"], ["normal", "infarct"], CLASSES)
    assert np.isnan(absent["recall_tumour"])


def test_text_and_majority_baselines():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 8)) * 4
    labels = np.repeat(CLASSES, 10)
    features = centres[np.repeat(np.arange(3), 10)] + rng.normal(size=(30, 8))
    predicted = text_baseline(features, labels, centres, seed=0)
    assert predicted.tolist() == CLASSES
    assert majority_baseline(["tumour", "normal", "tumour", "normal"], 2).tolist() == ["normal", "normal"]


def test_split_class_table_counts_and_label_noise():
    index = pd.DataFrame({"study_key": list("abcdef"), "report_class": ["normal", "normal", "tumour", "infarct", "tumour", "normal"],
                          "true_class": ["normal", "other", "tumour", "infarct", "tumour", "normal"]})
    splits = pd.DataFrame({"study_key": list("abcdef"), "split": ["train", "train", "train", "val", "test", "test"]})
    table = split_class_table(splits, index).set_index("split")
    assert table.loc["train", ["total", "infarct", "normal", "tumour"]].tolist() == [3, 0, 2, 1]
    assert table.loc["total", "total"] == 6
    assert table.loc["train", "label_noise"] == pytest.approx(1 / 3)
    assert table.loc["test", "label_noise"] == 0.0


def test_query_and_rank1_tables():
    studies = pd.DataFrame({"report": ["r0", "r1", "r2"], "report_class": ["normal", "tumour", "normal"],
                            "true_class": ["normal", "tumour", "infarct"]})
    top = query_table(np.array([0.2, 0.9, 0.5]), studies, top=2)
    assert top["report"].tolist() == ["r1", "r2"] and top["rank"].tolist() == [1, 2]
    # rows reports, columns images: report 0 -> image 2, report 1 -> image 0, report 2 -> image 0
    similarity = np.array([[0.9, 0.1, 0.5], [0.7, 0.8, 0.2], [0.6, 0.3, 0.1]])
    table = rank1_table(similarity, studies, ["image_0", "image_1", "image_2"])
    assert table["matched_image"].tolist() == ["image_2", "image_0", "image_0"]
    assert table["same_class"].tolist() == [True, False, True]
    assert table["reciprocal"].tolist() == [True, False, True]


def test_result_figures_render(tmp_path):
    from mrissl.clip.figures import loss_curves_figure, rank_similarity_figure, similarity_matrix_figure
    from mrissl.clip.retrieval import class_match_view
    from mrissl.figures import save_figure

    metrics = pd.DataFrame({"epoch": [1, 2, 3], "train_loss": [2.2, 2.0, 1.8], "val_loss": [2.1, 1.9, 2.0],
                            "logit_scale": [14.2, 14.0, 13.9], "batch_size": 8})
    rng = np.random.default_rng(0)
    similarity = rng.uniform(-1, 1, size=(6, 6))
    classes = ["normal", "tumour", "normal", "infarct", "tumour", "normal"]
    figures = {"fig5": loss_curves_figure(metrics), "fig6": similarity_matrix_figure(similarity, classes),
               "fig7": rank_similarity_figure(class_match_view(similarity, classes))}
    for name, figure in figures.items():
        assert save_figure(figure, tmp_path / f"{name}.png").stat().st_size > 1000
