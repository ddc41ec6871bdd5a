"""The BIDS reader's additions: T2*-weighted images (GRE) and 3D diffusion traces (TraceW / DWI by b-value)."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np

from mrissl.readers import read_dataset

SALT = "test-salt"


def write_nifti(path: Path, shape=(8, 8, 6)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.random.default_rng(0).random(shape).astype(np.float32), np.eye(4)), path)
    return path


def test_t2star_and_diffusion_traces(tmp_path):
    root = tmp_path / "bids"
    (root / "dwi.bval").parent.mkdir(parents=True)
    (root / "dwi.bval").write_text("0\n")  # inherited by every dwi image without its own
    anat = root / "sub-a1" / "ses-01" / "anat"
    write_nifti(anat / "sub-a1_ses-01_T2starw.nii.gz")
    (anat / "sub-a1_ses-01_T2starw.json").write_text(json.dumps({"EchoTime": 0.02, "FlipAngle": 20}))
    write_nifti(anat / "sub-a1_ses-01_FLAIR.nii.gz")
    dwi = root / "sub-a1" / "ses-01" / "dwi"
    write_nifti(dwi / "sub-a1_ses-01_dwi.nii.gz")
    (dwi / "sub-a1_ses-01_dwi.bval").write_text("1000\n")
    write_nifti(dwi / "sub-a1_ses-01_sbref.nii.gz")  # not a suffix this reader takes
    write_nifti(root / "sub-b2" / "dwi" / "sub-b2_acq-lowb_dwi.nii.gz")  # b = 0 from the root dwi.bval
    four_d = write_nifti(root / "sub-c3" / "dwi" / "sub-c3_dwi.nii.gz", shape=(8, 8, 6, 3))
    four_d.with_name("sub-c3_dwi.bval").write_text("1000\n")  # the bval fits, the image is 4D
    write_nifti(root / "sub-d4" / "dwi" / "sub-d4_dwi.nii.gz")
    (root / "sub-d4" / "dwi" / "sub-d4_dwi.bval").write_text("0 1000\n")
    manifest, quarantine = read_dataset("bids", root, SALT, tmp_path / "out")

    rows = manifest.set_index("series_description")
    assert sorted(manifest["label"]) == ["DWI", "FLAIR", "GRE", "TraceW"]
    gre = rows.loc["T2starw"]
    assert (gre["label"], gre["echo_time_ms"], gre["flip_angle_deg"]) == ("GRE", 20.0, 20.0)
    traces = manifest[manifest["series_description"] == "dwi"].set_index("label")
    assert traces.loc["TraceW", "b_value"] == 1000.0 and traces.loc["DWI", "b_value"] == 0.0
    assert traces.loc["TraceW", "study_key"] == rows.loc["FLAIR", "study_key"]  # one study: the session
    reasons = dict(zip(quarantine["path"], quarantine["reason"]))
    assert reasons["sub-c3/dwi/sub-c3_dwi.nii.gz"].startswith("4D image")
    assert "lists 2 b-values" in reasons["sub-d4/dwi/sub-d4_dwi.nii.gz"]
    assert len(quarantine) == 2


def test_diffusion_without_bval_is_quarantined(tmp_path):
    root = tmp_path / "bids"
    write_nifti(root / "sub-e5" / "dwi" / "sub-e5_dwi.nii.gz")
    manifest, quarantine = read_dataset("bids", root, SALT, tmp_path / "out")
    assert manifest.empty
    assert quarantine["reason"].tolist() == ["no .bval file; a BIDS dwi image needs one (one b-value for a 3D trace)"]


def test_bad_sidecars_and_bval_are_quarantined_naming_the_file(tmp_path):
    root = tmp_path / "bids"
    cases = {  # image -> (sidecar or bval written beside it, its bytes, the reason's start)
        "sub-e1/anat/sub-e1_T1w.nii.gz": ("sub-e1_T1w.json", b"[1, 2]", "sidecar is JSON but not an object"),
        "sub-e2/anat/sub-e2_T1w.nii.gz": ("sub-e2_T1w.json", "{\"Manufacturer\": \"Br\u00fcker\"}".encode("latin-1"),
                                          "sidecar is not valid JSON"),
        "sub-e3/anat/sub-e3_T1w.nii.gz": ("sub-e3_T1w.json", b"{\"EchoTime\": ", "sidecar is not valid JSON"),
        "sub-e4/dwi/sub-e4_dwi.nii.gz": ("sub-e4_dwi.bval", b"b1000\n", ".bval is not a list of numbers"),
    }
    for image, (side, content, _) in cases.items():
        path = write_nifti(root / image)
        path.with_name(side).write_bytes(content)
    write_nifti(root / "sub-ok" / "anat" / "sub-ok_T1w.nii.gz")
    manifest, quarantine = read_dataset("bids", root, SALT, tmp_path / "out")
    assert len(manifest) == 1
    reasons = dict(zip(quarantine["path"], quarantine["reason"]))
    assert set(reasons) == set(cases)
    related = dict(zip(quarantine["path"], quarantine["related_path"]))
    for image, (side, _, reason) in cases.items():
        assert reasons[image].startswith(reason), reasons[image]
        assert related[image] == f"{image.rsplit('/', 1)[0]}/{side}"  # named in the private columns only
