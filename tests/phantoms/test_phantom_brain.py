"""The embedded brain cohort: a small export is complete, consistent with truth.tsv, de-identifiable and
deterministic; the head model is anatomically plausible; sampled protocols keep each class's contrast."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest

from mrissl.phantoms import mr_physics as mr
from mrissl.phantoms.anatomy import mni_head, random_subject_deformation
from mrissl.phantoms.brain import (
    BRAIN_COVERAGE_MM,
    CLASSES,
    LABEL_COLUMNS,
    PROTOCOL_SAMPLERS,
    TRUTH_COLUMNS,
    BrainCohortConfig,
    generate_brain_cohort,
)
from mrissl.geometry import LPS_TO_RAS
from mrissl.phantoms.scanner import (
    Deformation,
    bias_field,
    plan_acquisition,
    rician_noise,
    small_rotation,
    voxel_coordinates,
)

SMALL = {
    "n_patients": 2, "studies_per_patient": [2, 2], "series_per_study": [9, 9], "matrix": [32, 48],
    "epi_matrix": [32, 40], "slice_thickness_mm": [3.0, 6.0], "field_strengths_t": [1.5, 3.0],
    "noise": [0.01, 0.05], "bias_field": 0.3, "wrong_description_rate": 0.15, "max_slices_3d": 40,
    "finding_rate": 1.0, "motion_rate": 0.2,
}
# Where each vendor keeps the b-value in a classic export (mrissl.phantoms.brain.b_value_tags).
B_VALUE_TAGS = {"SIEMENS": (0x0019, "SIEMENS MR HEADER", 0x0C), "GE MEDICAL SYSTEMS": (0x0043, "GEMS_PARM_01", 0x39),
                "Philips Medical Systems": (0x2001, "Philips Imaging DD 001", 0x03)}


def private_b_value(ds: pydicom.Dataset) -> float:
    group, creator, offset = B_VALUE_TAGS[ds.Manufacturer]
    value = ds.get_private_item(group, offset, creator).value
    return float(value[0] if isinstance(value, pydicom.multival.MultiValue) else value) % 1e9
SEED = 7


def generate(root: Path) -> pd.DataFrame:
    return generate_brain_cohort(BrainCohortConfig.from_config(SMALL), SEED, root / "dicom", root / "labels.tsv",
                                 root / "truth.tsv")


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("brain")
    generate(root)
    return root


def volume_of(uid: str, b_value) -> str:
    """A volume's name: the series UID, with its b-value where the series holds several volumes."""
    return uid if pd.isna(b_value) or b_value == "" else f"{uid}|b{float(b_value):g}"


def read_truth(cohort: Path, **read_csv) -> pd.DataFrame:
    truth = pd.read_csv(cohort / "truth.tsv", sep="\t", **read_csv)
    truth["volume"] = [volume_of(u, b) for u, b in zip(truth["series_instance_uid"], truth["b_value"])]
    return truth


@pytest.fixture(scope="module")
def series(cohort) -> dict[str, list[pydicom.Dataset]]:
    """Volume (``volume_of``) -> its slices' headers (pixels of the middle slice read where needed)."""
    multi_b = set(read_truth(cohort).dropna(subset=["b_value"])["series_instance_uid"])
    found: dict[str, list[pydicom.Dataset]] = {}
    for path in sorted((cohort / "dicom").rglob("*.dcm")):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        ds.filename = str(path)
        b = private_b_value(ds) if ds.SeriesInstanceUID in multi_b else None
        found.setdefault(volume_of(ds.SeriesInstanceUID, b), []).append(ds)
    return found


def test_tables_cover_every_series(cohort, series):
    truth = read_truth(cohort, dtype=str)
    labels = pd.read_csv(cohort / "labels.tsv", sep="\t", dtype=str)
    assert list(truth.columns) == [*TRUTH_COLUMNS, "volume"] and list(labels.columns) == LABEL_COLUMNS
    assert len(truth) == 2 * 2 * 9
    assert set(labels["SeriesInstanceUID"]) == set(truth["series_instance_uid"])
    assert set(truth["volume"]) == set(series)
    labelled = {volume_of(u, b): label for u, b, label in zip(labels["SeriesInstanceUID"], labels["b_value"], labels["label"])}
    assert labelled == dict(zip(truth["volume"], truth["label"]))
    # With every class in every study, most diffusion acquisitions export b=0 and trace as one series.
    combined = truth.dropna(subset=["b_value"])
    assert len(combined) >= 2 and set(combined["label"]) == {"DWI", "TraceW"}
    assert all(sorted(group) == ["DWI", "TraceW"] for _, group in combined.groupby("series_instance_uid")["label"])
def test_files_and_geometry_match_truth(cohort, series):
    truth = read_truth(cohort)
    for row in truth.itertuples():
        slices = sorted(series[row.volume], key=lambda ds: int(ds.InstanceNumber))
        assert len(slices) == row.n_files >= 8
        nx, ny, nz = (int(v) for v in row.shape.split(","))
        first = slices[0]
        assert (int(first.Columns), int(first.Rows), len(slices)) == (nx, ny, nz)
        # Rebuild the LPS affine from the headers (dicom.write_series' convention) and compare.
        orientation = np.array(first.ImageOrientationPatient, float)
        row_spacing, col_spacing = (float(v) for v in first.PixelSpacing)
        step = np.array(slices[1].ImagePositionPatient, float) - np.array(first.ImagePositionPatient, float)
        affine = np.eye(4)
        affine[:3, 0] = orientation[:3] * col_spacing
        affine[:3, 1] = orientation[3:] * row_spacing
        affine[:3, 2] = step
        affine[:3, 3] = np.array(first.ImagePositionPatient, float)
        expected = np.array([float(v) for v in row.affine_ras.split(",")]).reshape(4, 4)
        np.testing.assert_allclose(LPS_TO_RAS @ affine, expected, atol=2e-3)
        normal = np.cross(orientation[:3], orientation[3:])
        assert ["sagittal", "coronal", "axial"][int(np.argmax(np.abs(normal)))] == row.acquisition_plane
        assert float(first.MagneticFieldStrength) == row.field_strength_t


def test_headers_carry_fake_identities_but_paths_do_not(cohort, series):
    truth = read_truth(cohort, dtype=str)
    by_uid = truth.set_index("volume")
    for uid, slices in series.items():
        ds = slices[0]
        expected = by_uid.loc[uid]
        assert str(ds.PatientName) == expected["patient_name"]
        assert ds.PatientID == expected["patient_id"] and ds.PatientID.startswith("MRN") and len(ds.PatientID) == 10
        assert ds.PatientBirthDate == expected["patient_birth_date"]
        assert ds.AccessionNumber == expected["accession_number"]
        assert ds.StudyInstanceUID == expected["study_instance_uid"]
        assert ds.InstitutionName and ds.Manufacturer in ("SIEMENS", "GE MEDICAL SYSTEMS", "Philips Medical Systems")
        assert ds.BodyPartExamined in ("HEAD", "BRAIN")
        group, creator, offset = B_VALUE_TAGS[ds.Manufacturer]
        try:  # the vendor's b-value and its private creator are the only private elements
            block = ds.private_block(group, creator)
            allowed = {block.get_tag(offset), pydicom.tag.Tag(group, block.block_start >> 8)}
        except KeyError:
            allowed = set()
        assert all(e.tag in allowed for e in ds if e.tag.is_private), uid
    names = {part for name in truth["patient_name"] for part in name.split("^") if len(part) > 1}
    identifiers = names | set(truth["patient_id"]) | set(truth["accession_number"]) | set(truth["patient_birth_date"])
    for path in (cohort / "dicom").rglob("*"):
        relative = str(path.relative_to(cohort))
        assert not any(value in relative for value in identifiers), relative


def test_class_specific_headers(cohort, series):
    truth = read_truth(cohort, dtype=str).set_index("volume")
    for uid, slices in series.items():
        ds, label = slices[0], truth.loc[uid, "label"]
        if label in ("TraceW", "DWI"):
            assert "EP" in str(ds.ScanningSequence) or ds.ScanningSequence == "SE"
            assert (private_b_value(ds) >= 800) == (label == "TraceW")
            if "DiffusionBValue" in ds:  # Siemens XA and some Philips exports also write the standard tag
                assert float(ds.DiffusionBValue) == private_b_value(ds)
        if label == "ADC":
            assert list(ds.ImageType)[0] == "DERIVED" and "ADC" in list(ds.ImageType)
        if label == "FLAIR":
            assert float(ds.InversionTime) > 1500
        if label == "TOF":
            assert ds.MRAcquisitionType == "3D" and float(ds.RepetitionTime) < 50


def test_whole_brain_3d_series_cover_the_brain(cohort, series):
    """3D series are not thin slabs: they span the brain along their normal, partitions no thinner than pixels."""
    truth = read_truth(cohort, dtype=str).set_index("volume")
    checked = 0
    for uid, slices in series.items():
        ds, label = slices[0], truth.loc[uid, "label"]
        if ds.MRAcquisitionType != "3D" or label == "TOF":  # TOF covers the circle of Willis only
            continue
        span = len(slices) * float(ds.SpacingBetweenSlices)
        assert span >= BRAIN_COVERAGE_MM[truth.loc[uid, "acquisition_plane"]][0] - float(ds.SliceThickness), uid
        assert float(ds.SliceThickness) >= min(float(v) for v in ds.PixelSpacing) - 0.05
        checked += 1
    assert checked >= 1


def test_adc_maps_have_bright_csf(cohort, series):
    truth = pd.read_csv(cohort / "truth.tsv", sep="\t", dtype=str)
    for uid in truth.loc[truth["label"] == "ADC", "series_instance_uid"]:
        slices = sorted(series[uid], key=lambda ds: int(ds.InstanceNumber))
        middle = slices[len(slices) // 3: 2 * len(slices) // 3]
        values = np.concatenate([pydicom.dcmread(s.filename).pixel_array.ravel() * float(s.RescaleSlope)
                                 for s in middle])
        tissue = values[values > 0]
        # Brain parenchyma around 700-900 x 10^-6 mm^2/s, ventricles and sulci towards 3000.
        assert 500 < np.median(tissue) < 1500
        assert np.percentile(tissue, 99) > 1800  # partial volume at 32-48 pixels lowers the CSF peak


def test_same_seed_gives_byte_identical_files(cohort, tmp_path):
    again = tmp_path / "again"
    generate(again)

    def digests(root: Path) -> dict[str, str]:
        return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(root.rglob("*")) if p.is_file()}

    first, second = digests(cohort), digests(again)
    assert len(first) > 100 and first == second


def test_config_errors_name_the_key():
    with pytest.raises(ValueError, match="unknown keys \\['n_patient'\\]"):
        BrainCohortConfig.from_config({**SMALL, "n_patient": 3})
    with pytest.raises(ValueError, match="series_per_study"):
        BrainCohortConfig.from_config({**SMALL, "series_per_study": [5, 12]})
    with pytest.raises(ValueError, match="max_slices 4 must be at least"):
        BrainCohortConfig.from_config({**SMALL, "max_slices": 4})


def test_head_model_is_anatomically_plausible():
    head = mni_head()
    total = head.fractions.sum(axis=0)
    assert total.max() <= 1.0 + 1e-5 and head.fractions.min() >= 0
    litres = {t: float(head.fractions[head.tissues.index(t)].sum()) * 8e-6 for t in head.tissues}  # 2 mm voxels
    assert 1.2 < litres["gm"] + litres["wm"] < 1.9       # MNI152 brain parenchyma (a large adult brain)
    assert 0.1 < litres["csf"] < 0.6
    assert 0.005 < litres["artery"] < 0.05 and litres["vein"] > 0.005 and litres["vitreous"] > 0.01
    # Lateral ventricles (CSF) at the centre, white matter around them, skull marrow at the vertex.
    index = lambda mm: tuple(np.round((np.array(mm) - head.affine[:3, 3]) / 2.0).astype(int))  # noqa: E731
    assert head.fractions[head.tissues.index("csf")][index((8, 5, 18))] > 0.5
    assert head.fractions[head.tissues.index("wm")][index((20, -30, 15))] > 0.5
    # Susceptibility: field offsets concentrate near the air sinuses, not at the brain centre.
    assert abs(head.field_ppm[index((0, -18, 20))]) < 0.2


def test_subject_deformations_differ_but_stay_small():
    head = mni_head()
    a = random_subject_deformation(np.random.default_rng(1), head)
    b = random_subject_deformation(np.random.default_rng(2), head)
    assert not np.allclose(a.linear, b.linear)
    points = head.brain_center[None] + np.random.default_rng(0).normal(0, 30, (50, 3))
    assert np.abs(a.displacement_at(points)).max() < 25.0


@pytest.mark.parametrize("field_t", [1.5, 3.0])
def test_sampled_protocols_keep_each_class_identifiable(field_t):
    """Over many random protocols, the contrast that defines each class holds (a radiologist could tell)."""
    rng = np.random.default_rng(0)

    def signal(protocol, name, seq=None):
        return mr.tissue_signal(mr.tissue(name, field_t), seq or protocol.sequence)

    for vendor in ("SIEMENS", "GE MEDICAL SYSTEMS", "Philips Medical Systems"):
        for _ in range(40):
            t1 = PROTOCOL_SAMPLERS["T1"](rng, vendor, field_t)
            assert signal(t1, "wm") > signal(t1, "gm") > signal(t1, "csf")
            t2 = PROTOCOL_SAMPLERS["T2"](rng, vendor, field_t)
            assert signal(t2, "csf") > signal(t2, "gm") > signal(t2, "wm")
            flair = PROTOCOL_SAMPLERS["FLAIR"](rng, vendor, field_t)
            assert signal(flair, "csf") < 0.6 * signal(flair, "gm") and signal(flair, "gm") > signal(flair, "wm")
            tof = PROTOCOL_SAMPLERS["TOF"](rng, vendor, field_t)
            assert signal(tof, "artery") > 2 * max(signal(tof, t) for t in ("gm", "wm", "csf"))
            trace = PROTOCOL_SAMPLERS["TraceW"](rng, vendor, field_t)
            assert signal(trace, "csf") < signal(trace, "gm")
            dwi = PROTOCOL_SAMPLERS["DWI"](rng, vendor, field_t)
            assert dwi.sequence.b_value < trace.sequence.b_value
            gre = PROTOCOL_SAMPLERS["GRE"](rng, vendor, field_t)
            assert gre.sequence.gradient_echo and signal(gre, "vein") < signal(gre, "gm")
            perfusion = PROTOCOL_SAMPLERS["Perfusion"](rng, vendor, field_t)
            assert perfusion.epi and perfusion.sequence.gradient_echo


def test_acquisition_geometry_and_sampling_coordinates():
    for plane, axis in [("axial", 2), ("coronal", 1), ("sagittal", 0)]:
        acq = plan_acquisition(plane, np.array([3.0, -7.0, 11.0]), fov_mm=240.0, matrix=80, phase_fov=0.75,
                               phase_axis=0, n_slices=20, slice_thickness_mm=4.0, slice_gap_mm=1.0,
                               rotation=np.eye(3))
        assert acq.shape == (60, 80, 20)
        np.testing.assert_allclose(acq.spacing_mm, [3.0, 3.0, 5.0])
        normal = np.cross(acq.affine_lps[:3, 0], acq.affine_lps[:3, 1])
        assert int(np.argmax(np.abs(normal))) == axis
        centre = acq.affine_lps @ np.append((np.array(acq.shape) - 1) / 2.0, 1.0)
        np.testing.assert_allclose(centre[:3], [3.0, -7.0, 11.0], atol=1e-9)
    # Without elastic displacement, the coarse-lattice spline reproduces the affine map exactly.
    tilted = plan_acquisition("axial", np.zeros(3), fov_mm=200.0, matrix=40, phase_fov=1.0, phase_axis=1,
                              n_slices=11, slice_thickness_mm=3.0, slice_gap_mm=0.0,
                              rotation=small_rotation(np.random.default_rng(0), 15.0))
    object_affine = np.diag([2.0, 2.0, 2.0, 1.0])
    object_affine[:3, 3] = -100.0
    pose = Deformation(np.diag([-1.0, -1.0, 1.0, 1.0]))
    coords = voxel_coordinates(tilted, pose, object_affine)
    index = np.stack(np.meshgrid(*[np.arange(n) for n in tilted.shape], indexing="ij"), axis=-1)
    expected = np.linalg.inv(object_affine) @ pose.linear @ tilted.affine_lps
    np.testing.assert_allclose(np.moveaxis(coords, 0, -1), index @ expected[:3, :3].T + expected[:3, 3], atol=1e-3)


def test_noise_and_bias_field():
    rng = np.random.default_rng(0)
    background = rician_noise(rng, np.zeros((64, 64, 16), np.float32), 2.0)
    assert background.mean() == pytest.approx(2.0 * np.sqrt(np.pi / 2), rel=0.02)  # Rayleigh mean
    field = bias_field(rng, (40, 30, 10), 0.3)
    assert field.min() >= 0.7 - 1e-5 and field.max() <= 1.3 + 1e-5
    assert max(field.max() - 1.0, 1.0 - field.min()) == pytest.approx(0.3, rel=1e-4)


def test_motion_ghosts_lie_along_the_phase_axis_only():
    from mrissl.phantoms.scanner import motion_ghosts

    image = np.zeros((32, 32, 4), np.float32)
    image[12:20, 12:20] = 1.0
    ghosted = motion_ghosts(image, phase_axis=1, strength=0.2, rng=np.random.default_rng(0))
    outside_rows = np.ones(32, bool)
    outside_rows[10:22] = False
    # Signal appears outside the object along the phase axis (j), never beside it along i.
    assert ghosted[14:18][:, outside_rows].max() > 0.02
    assert ghosted[outside_rows][:, 14:18].max() < 1e-3
    assert abs(ghosted.sum() / image.sum() - (1 + 0.2 * sum(1 / n for n in range(1, 5)))) < 0.2


def test_findings_and_white_matter_change_follow_age():
    from mrissl.phantoms.anatomy import ventricle_pull
    from mrissl.phantoms.brain import patient_findings, white_matter_change_probability

    assert white_matter_change_probability(30) == 0 < white_matter_change_probability(60) < white_matter_change_probability(85)
    head = mni_head()
    rng = np.random.default_rng(1)
    assert all(len(patient_findings(rng, head, 25.0, 1.0)) == 1 for _ in range(3))  # the finding, no WM change
    assert patient_findings(rng, head, 85.0, 0.0) == []
    young = np.mean([ventricle_pull(rng, 25.0) for _ in range(200)])
    old = np.mean([ventricle_pull(rng, 80.0) for _ in range(200)])
    assert old < young - 0.25  # a stronger (negative) pull: larger ventricles
