"""The one table writer of the project: every table goes out as CSV, Markdown and LaTeX.

Floats are written with a fixed number of digits in all three formats and nothing else varies
between runs (no dates, no versions), so the same DataFrame always gives byte-identical files.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

LATEX_SPECIALS = str.maketrans({
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
})


def write_table_formats(
    df: pd.DataFrame, stem: Path | str, caption: str | None = None, *, digits: int = 3
) -> list[Path]:
    """Write ``df`` (its index dropped) to ``stem``.csv, ``stem``.md and ``stem``.tex; return the paths.

    Float columns get ``digits`` decimals, missing values an empty cell. ``caption`` is plain text:
    it heads the Markdown table (pandoc's ``Table:`` line) and becomes the LaTeX caption, escaped;
    the LaTeX label is ``tab:`` plus the file name.
    """
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_name(f"{stem.name}.{ext}") for ext in ("csv", "md", "tex")]
    csv_path, md_path, tex_path = paths

    df.to_csv(csv_path, index=False, float_format=f"%.{digits}f", lineterminator="\n")

    # tabulate writes ``missingval`` for None only, not for NaN.
    markdown = df.astype(object).where(df.notna(), None).to_markdown(
        index=False, floatfmt=f".{digits}f", missingval=""
    )
    md_path.write_text((f"Table: {caption}\n\n" if caption else "") + markdown + "\n")

    latex = df.to_latex(
        index=False,
        escape=True,
        na_rep="",
        float_format=f"{{:.{digits}f}}".format,
        caption=caption.translate(LATEX_SPECIALS) if caption else None,
        label=f"tab:{stem.name}",
        position="htbp",
    )
    tex_path.write_text(latex)
    return paths


def mean_and_spread(values: pd.DataFrame, index: list[str], columns: list[str]) -> pd.DataFrame:
    """A long table (``fraction``, ``column``, ``value``; one row per seed) -> one row per fraction (as in
    ``index``), for each of ``columns`` the mean over seeds and, when some cell has more than one seed,
    the sample standard deviation as ``"<column> sd"`` beside it."""
    grouped = values.groupby(["fraction", "column"])["value"]
    mean = grouped.mean().unstack("column").reindex(index=index, columns=columns)
    if grouped.size().max() <= 1:
        return mean
    sd = grouped.std(ddof=1).unstack("column").reindex(index=index, columns=columns)
    return pd.DataFrame({name: frame[c] for c in columns for name, frame in ((c, mean), (f"{c} sd", sd))})


def mean_accuracy_by_fraction(paths: list[str], columns: list[str], fractions: list[str]) -> pd.DataFrame:
    """Accuracy TSVs (fraction, accuracy) -> one row per fraction (as in ``fractions``) and one column per
    distinct name in ``columns`` (one name per path, in column order): the mean over the paths that share
    a name (the seeds of a run), and their spread (``mean_and_spread``)."""
    runs = pd.concat([
        pd.read_csv(path, sep="\t", dtype={"fraction": str}).assign(column=column)
        for path, column in zip(paths, columns, strict=True)
    ])
    return mean_and_spread(runs.rename(columns={"accuracy": "value"}), fractions, list(dict.fromkeys(columns)))


def percent_labels(fractions: list[str]) -> list[str]:
    """Label fractions as the paper writes them: "0.005" -> "0.5%"."""
    return [f"{float(f) * 100:g}%" for f in fractions]
