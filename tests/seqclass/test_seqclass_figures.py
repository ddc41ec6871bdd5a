"""The curation montage: one slice per class and plane, byte-stable."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mrissl.figures import save_figure
from mrissl.seqclass.figures import curation_montage


def montage_inputs():
    rng = np.random.default_rng(0)
    index = pd.DataFrame(
        [(f"s{label}", plane, label) for label in ("T1", "FLAIR") for plane in ("sagittal", "coronal", "axial") for _ in range(3)],
        columns=["series_key", "plane", "label"],
    ).assign(row=lambda d: range(len(d)))
    return rng.random((len(index), 24, 24)).astype(np.float16), index


def test_montage_png_is_byte_identical_and_sized(tmp_path):
    slices, index = montage_inputs()
    figure = curation_montage(slices, index, ["T1", "FLAIR", "TOF"], ["sagittal", "coronal", "axial"])
    assert figure.axes[0].get_ylabel() == "T1" and figure.axes[0].get_title() == "sagittal"
    assert len(figure.axes[0].images) == 1 and not figure.axes[-1].images  # TOF has no slices
    save_figure(figure, tmp_path / "one.png")
    again = curation_montage(slices, index, ["T1", "FLAIR", "TOF"], ["sagittal", "coronal", "axial"])
    save_figure(again, tmp_path / "two.png")
    data = (tmp_path / "one.png").read_bytes()
    assert data == (tmp_path / "two.png").read_bytes()
    assert b"Software" not in data and b"matplotlib" not in data.lower()
