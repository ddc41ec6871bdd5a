"""Peak memory of the DICOM ingest at 1x and 10x the series: it must not grow with the export.

    .venv/bin/python bench/ingest_memory.py [--patients 4] [--copies 10] [--shards 2] [--threads 1]

The 1x export is a brain phantom (``mrissl.phantoms.brain``): ``--patients`` patients with one
study of all nine classes, each series as the demo's (config.yaml: 96-128 px, up to 24 slices, 3D
series up to 64). With tiny.yaml's 32 x 48 px series (about 40 KB each), what a shard job must keep
of each of its series (the file list, the manifest row: a few KB) would weigh like converting one;
real series are megabytes. The 10x export is that export ``--copies`` times, each copy with new
patient IDs and new study/series/instance UIDs (and its labels). Copies rather than a larger
phantom: every series is then exactly as big at 1x and at 10x, so only the number of series (and
files and patients) changes, not the size of the largest series. The shard count stays the
config's, so each shard job gets 10x the series: the stricter case (more shards bound it). A shard
job converts one series at a time here: with ``--threads 2`` (the config's) its peak also depends
on which two series happen to convert together, at most two series' worth whatever their number,
and that chance, not the number, moves the figures by a few MiB from run to run.

Each ingest step runs its own rule script (``scripts/index_dicom.py``, ``ingest_shard.py`` per
shard, ``merge_manifest.py``) in a fresh Python, as Snakemake runs it. A step's peak is that of its
largest process (the Python itself or a dcm2niix it ran) minus the baseline, the peak of the same
Python that only imports what the scripts import. The script prints, per export, each step's peak
above the baseline and the biggest, and the ratio of the two biggest (issue 14: at most 1.2).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pydicom
import yaml

from mrissl.phantoms.brain import BrainCohortConfig, generate_brain_cohort
from mrissl.phantoms.dicom import deterministic_uid

REPO = Path(__file__).resolve().parents[1]
SALT = "bench-salt"
UID_KEYWORDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID")

# A rule script run with a stand-in for Snakemake's ``snakemake`` object (argv: script, its fields as
# JSON); with no script, the baseline: the imports of the three ingest scripts and nothing else. It
# prints its peak RSS in KiB: its own VmHWM, or a child's (dcm2niix) when larger. Not its own
# ru_maxrss: exec carries the spawning process's peak over into that.
STEP = """
import json, resource, runpy, sys, types
import mrissl.ingest, mrissl.manifest, mrissl.runlog
if len(sys.argv) > 1:
    def namespace(value):
        return types.SimpleNamespace(**{k: namespace(v) for k, v in value.items()}) if isinstance(value, dict) else value
    runpy.run_path(sys.argv[1], init_globals={"snakemake": namespace(json.loads(sys.argv[2]))}, run_name="__main__")
with open("/proc/self/status") as status:
    own = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(max(own, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
"""


def peak_rss_mib(*args: str) -> float:
    """The peak RSS of ``python -c STEP *args`` (of its largest process), in MiB."""
    done = subprocess.run([sys.executable, "-c", STEP, *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"ingest step {args[:1]} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return int(done.stdout.split()[-1]) / 1024


def run_script(script: str, **fields) -> float:
    return peak_rss_mib(str(REPO / "scripts" / script), json.dumps(fields))


def phantom_export(root: Path, patients: int) -> Path:
    """A brain-phantom export under ``root/dicom`` and its ``root/labels.tsv``: ``patients`` patients
    with one study of all nine classes, each series as config.yaml's phantom (what ``make demo`` ingests)."""
    brain = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["phantom"]["brain"]
    config = BrainCohortConfig.from_config({**brain, "n_patients": patients, "studies_per_patient": [1, 1],
                                            "series_per_study": [9, 9]})
    generate_brain_cohort(config, seed=0, dicom_dir=root / "dicom", labels_path=root / "labels.tsv",
                          truth_path=root / "truth.tsv")
    return root


def copied_export(source: Path, root: Path, copies: int) -> Path:
    """``source``'s export ``copies`` times under ``root``: copy 0 as it is, the others as new patients."""
    labels = pd.read_csv(source / "labels.tsv", sep="\t", dtype=str)
    shutil.copytree(source / "dicom", root / "dicom" / "copy00")
    tables = [labels]
    for copy in range(1, copies):
        for path in sorted((source / "dicom").rglob("*.dcm")):
            ds = pydicom.dcmread(path)
            for keyword in UID_KEYWORDS:
                if keyword in ds:
                    setattr(ds, keyword, deterministic_uid(ds[keyword].value, copy))
            ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            ds.PatientID = f"{ds.PatientID}C{copy}"  # another patient key, so copies spread over the shards
            out = root / "dicom" / f"copy{copy:02d}" / path.relative_to(source / "dicom")
            out.parent.mkdir(parents=True, exist_ok=True)
            ds.save_as(out, enforce_file_format=True)
        tables.append(labels.assign(SeriesInstanceUID=[deterministic_uid(uid, copy) for uid in labels["SeriesInstanceUID"]]))
    pd.concat(tables).to_csv(root / "labels.tsv", sep="\t", index=False)
    return root


def ingest_peaks(export: Path, work: Path, shards: int, threads: int) -> tuple[dict[str, float], int]:
    """Each ingest step's peak RSS (MiB) on ``export``, and the number of series in the manifest."""
    index, names = work / "file_index.tsv", [f"{i:03d}" for i in range(shards)]
    peaks = {"index": run_script("index_dicom.py", input={"root": str(export / "dicom")},
                                 params={"salt": SALT, "shards": shards}, output={"index": str(index)},
                                 log=[str(work / "index.log")])}
    for shard in names:
        folder = work / "shards" / shard
        peaks[f"shard {shard}"] = run_script(
            "ingest_shard.py", input={"index": str(index), "labels": [str(export / "labels.tsv")]},
            output={"manifest": str(folder / "manifest.tsv"), "quarantine": str(folder / "quarantine.tsv"),
                    "nifti": str(work / "nifti" / shard)},
            params={"salt": SALT, "min_slices": 3, "source": "phantom", "root": str(export / "dicom")},
            wildcards={"shard": shard},
            threads=threads, log=[str(work / f"shard_{shard}.log")])
    peaks["merge"] = run_script(
        "merge_manifest.py",
        input={"index": str(index), "manifests": [str(work / "shards" / s / "manifest.tsv") for s in names],
               "quarantines": [str(work / "shards" / s / "quarantine.tsv") for s in names]},
        params={"root": str(export / "dicom")}, output={"manifest": str(work / "manifest.tsv"),
                                                        "quarantine": str(work / "quarantine.tsv")},
        log=[str(work / "merge.log")])
    return peaks, len(pd.read_csv(work / "manifest.tsv", sep="\t"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=4, help="of the 1x phantom export (9 series each)")
    parser.add_argument("--copies", type=int, default=10, help="the larger export is this many copies")
    parser.add_argument("--shards", type=int, default=2, help="ingest.shards (config.yaml's default)")
    parser.add_argument("--threads", type=int, default=1, help="threads of an ingest_shard job (the config: 2)")
    args = parser.parse_args()

    baseline = peak_rss_mib()
    print(f"baseline (a Python that imports the ingest scripts' modules): {baseline:.1f} MiB; "
          f"{args.shards} shards, {args.threads} threads a shard; peak RSS above the baseline, MiB:")
    biggest = {}
    with tempfile.TemporaryDirectory(prefix="mrissl-bench-ingest-") as tmp:
        one = phantom_export(Path(tmp, "1x"), args.patients)
        exports = {"1x": one, f"{args.copies}x": copied_export(one, Path(tmp, f"{args.copies}x"), args.copies)}
        for scale, export in exports.items():
            peaks, series = ingest_peaks(export, Path(tmp, f"ingest-{scale}"), args.shards, args.threads)
            above = {step: peak - baseline for step, peak in peaks.items()}
            step = max(above, key=above.get)
            biggest[scale] = above[step]
            files = sum(1 for _ in (export / "dicom").rglob("*.dcm"))
            steps = ", ".join(f"{name} {value:.1f}" for name, value in above.items())
            print(f"{scale:>4}: {series:4d} series, {files:5d} files: {steps}; biggest {above[step]:.1f} ({step})")
    small, large = biggest.values()
    print(f"ratio {args.copies}x / 1x of the biggest: {large / small:.2f} (issue 14: at most 1.2)")


if __name__ == "__main__":
    main()
