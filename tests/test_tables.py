"""The shared table writer and figure saver: three formats, fixed float format, byte-stable output."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mrissl.figures import plt, save_figure
from mrissl.tables import write_table_formats


def results_table() -> pd.DataFrame:
    return pd.DataFrame({
        "label_fraction": ["0.5%", "1%", "100%"],
        "batch_size": [64, 128, 256],
        "accuracy": [0.655, 2 / 3, np.nan],
    })


def test_three_formats_with_fixed_floats(tmp_path):
    paths = write_table_formats(results_table(), tmp_path / "tables" / "simsiam", caption="SimSiam accuracy, 50% of labels")
    assert [p.name for p in paths] == ["simsiam.csv", "simsiam.md", "simsiam.tex"]
    csv, md, tex = (p.read_text() for p in paths)
    assert csv == "label_fraction,batch_size,accuracy\n0.5%,64,0.655\n1%,128,0.667\n100%,256,\n"
    assert md.startswith("Table: SimSiam accuracy, 50% of labels\n\n|")
    assert "0.667" in md and "0.6666" not in md and "nan" not in md.lower()
    assert r"\caption{SimSiam accuracy, 50\% of labels}" in tex and r"\label{tab:simsiam}" in tex
    assert r"label\_fraction" in tex and r"0.5\%" in tex and "0.667" in tex and "nan" not in tex.lower()
    pd.testing.assert_frame_equal(
        pd.read_csv(paths[0]), results_table().assign(accuracy=[0.655, 0.667, np.nan]), check_exact=True
    )


def test_digits_and_no_caption(tmp_path):
    csv, md, tex = write_table_formats(results_table(), tmp_path / "t", digits=4)
    assert "0.6667" in csv.read_text() and "0.6667" in md.read_text() and "0.6667" in tex.read_text()
    assert md.read_text().startswith("|") and r"\caption" not in tex.read_text()


def test_tables_are_byte_identical_across_runs(tmp_path):
    first = [p.read_bytes() for p in write_table_formats(results_table(), tmp_path / "a" / "t", caption="c")]
    second = [p.read_bytes() for p in write_table_formats(results_table(), tmp_path / "b" / "t", caption="c")]
    assert first == second


def test_saved_figure_is_byte_identical_without_software_metadata(tmp_path):
    for name in ("one", "two"):
        fig, ax = plt.subplots()
        ax.plot([0, 1, 2], [2, 0, 1])
        save_figure(fig, tmp_path / f"{name}.png")
    data = (tmp_path / "one.png").read_bytes()
    assert data == (tmp_path / "two.png").read_bytes()
    assert b"Software" not in data and b"matplotlib" not in data.lower()


def test_mean_and_spread_over_seeds():
    from mrissl.tables import mean_and_spread

    values = pd.DataFrame({"fraction": ["0.5", "0.5", "1", "1", "0.5", "1"],
                           "column": ["a", "a", "a", "a", "b", "b"],
                           "value": [0.6, 0.8, 0.9, 0.9, 0.5, 0.7]})
    table = mean_and_spread(values, ["0.5", "1"], ["a", "b"])
    assert list(table.columns) == ["a", "a sd", "b", "b sd"]
    assert table.loc["0.5", "a"] == pytest.approx(0.7) and table.loc["0.5", "a sd"] == pytest.approx(0.1414214)
    assert table.loc["1", "a sd"] == 0 and np.isnan(table.loc["0.5", "b sd"])  # one seed: no spread
    single = mean_and_spread(values[values["column"] == "b"], ["0.5", "1"], ["b"])
    assert list(single.columns) == ["b"]  # one seed everywhere: means only
