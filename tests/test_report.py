"""The HTML report (`snakemake --report`, `make report`): every table and figure of a run, each with its
caption, grouped by study."""

from __future__ import annotations

import json
import re

import pytest

from conftest import run_snakemake

pytestmark = pytest.mark.workflow

# Snakemake writes each result into the page as a JSON object keyed by its path, and the categories
# as {category: {subcategory: [paths]}}.
RESULT = re.compile(r'"(results/(?:tables|figures)/[^"]+)": \{"name": "[^"]*", "filename": "[^"]*", '
                    r'"labels": (?:null|\{[^}]*\}), "size": "[^"]*", "caption": ("(?:[^"\\]|\\.)*")')
CATEGORY = re.compile(r'"(\w+) \(paper 00\d\)": (\{[^{}]*\})')


def test_report_shows_every_table_and_figure_with_a_caption(tiny_run, tmp_path):
    report = tmp_path / "report.html"
    run_snakemake(tiny_run, "--report", str(report), "--configfile", "config/tiny.yaml")
    html = report.read_text()
    captions = {path: json.loads(caption) for path, caption in RESULT.findall(html)}
    made = sorted(p.relative_to(tiny_run).as_posix()
                  for pattern in ("results/tables/*.csv", "results/figures/*.png") for p in tiny_run.glob(pattern))
    assert made and sorted(captions) == made
    for path, caption in captions.items():
        assert len(re.sub(r"<[^>]+>", "", caption).split()) >= 10, f"{path}: no real caption"
        assert "{{" not in caption, f"{path}: caption template not rendered"
    study_of = {path: study for study, subcategories in CATEGORY.findall(html)
                for paths in json.loads(subcategories).values() for path in paths}
    assert sorted(study_of) == made
    for path, study in study_of.items():
        assert study == path.rsplit("/", 1)[1].split("_")[0], path  # one name per study: the file's prefix
