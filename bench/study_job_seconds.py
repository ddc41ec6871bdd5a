"""What each study adds to a finished run: the job seconds of its rules, from the run's benchmarks.

    .venv/bin/python bench/study_job_seconds.py [--root .] [--cores 2]

Sums the wall seconds (column ``s``) of every ``benchmarks/**/*.tsv`` by study: a study's own folder,
its phantom cohort and ``read_cohort`` job (tumour -> reportcl, spine -> longitudinal, pathology ->
clip; the brain cohort, the external sites and the DICOM ingest -> seqclass) and the lineage
records of its tables and figures (named ``<study>_*``). Divided by the cores, it is the wall time
the study adds when the cores stay busy; the run's own wall time is in its Snakemake log.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import pandas as pd

STUDIES = ("seqclass", "reportcl", "longitudinal", "clip")
COHORT_STUDY = {"tumour": "reportcl", "spine": "longitudinal", "pathology": "clip"}


def study_of(benchmark: Path, root: Path) -> str:
    parts = benchmark.relative_to(root / "benchmarks").parts
    if parts[0] in STUDIES:
        return parts[0]
    if parts[0] == "lineage":
        return parts[-1].split("_")[0]
    if parts[0] in ("phantom", "cohorts"):
        return next((study for cohort, study in COHORT_STUDY.items() if cohort in parts[-1]), "seqclass")
    return "seqclass"   # ingest: the DICOM brain cohort


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("."), help="the run's working directory")
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    seconds, jobs = Counter(), Counter()
    for benchmark in sorted((args.root / "benchmarks").rglob("*.tsv")):
        table = pd.read_csv(benchmark, sep="\t")
        if len(table):
            study = study_of(benchmark, args.root)
            seconds[study] += float(table["s"].iloc[-1])
            jobs[study] += 1
    rows = [{"study": study, "jobs": jobs[study], "job_seconds": round(seconds[study]),
             f"minutes_on_{args.cores}_cores": round(seconds[study] / args.cores / 60, 1)} for study in STUDIES]
    print(pd.DataFrame(rows).to_string(index=False))
    print(f"all: {sum(jobs.values())} jobs, {sum(seconds.values()):.0f} job seconds")


if __name__ == "__main__":
    main()
