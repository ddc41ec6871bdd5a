"""VB / IVD extraction (paper 002, 2.1) on a box phantom whose every position and intensity is known."""

from __future__ import annotations

import logging

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from scipy import ndimage

from mrissl.longitudinal.vertebrae import (
    CONTEXT,
    INDEX_COLUMNS,
    IVD_LEVELS,
    STRUCTURES,
    VB_LEVELS,
    crop_structure,
    extract_structures,
    extract_vertebrae,
    normalisation_scale,
    place_structure,
    read_vertebrae_index,
    scan_placements,
    structure_width,
)
from mrissl.readers.spider import SPIDER_CANAL_LABEL, SPIDER_DISC_LABELS, SPIDER_VERTEBRA_LABELS

SPACING = (4.0, 1.0, 1.0)   # canonical axes: left-right (slices), posterior->anterior, inferior->superior
SHAPE = (7, 60, 200)
VB_AP = (20, 40)            # voxels [start, stop): 20 mm wide
DISC_AP = (18, 42)          # 24 mm
CANAL_AP = (10, 18)
VB_HEIGHT, DISC_HEIGHT = 16, 8
CANAL_VALUE, DISC_VALUE = 999.0, 50.0


def vb_value(level: str) -> float:
    return 100.0 * (VB_LEVELS.index(level) + 1)   # T12 100 ... S1 700


def box_spine(vb_slices: dict[str, tuple[int, int]] | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """A canonical volume and SPIDER mask: 7 VB boxes T12 (top) to S1 with 6 disc boxes between,
    a canal behind; VBs span slices 1-5 unless ``vb_slices`` says otherwise. Returns the volume,
    mask and each structure's (slices, ap, si) voxel ranges."""
    volume = np.zeros(SHAPE, np.float32)
    mask = np.zeros(SHAPE, np.int16)
    boxes = {}
    top = 180
    for i, level in enumerate(VB_LEVELS):
        si = (top - VB_HEIGHT, top)
        slices = (vb_slices or {}).get(level, (1, 6))
        boxes[level] = (slices, VB_AP, si)
        volume[slices[0]:slices[1], VB_AP[0]:VB_AP[1], si[0]:si[1]] = vb_value(level)
        mask[slices[0]:slices[1], VB_AP[0]:VB_AP[1], si[0]:si[1]] = SPIDER_VERTEBRA_LABELS[level]
        if i < len(IVD_LEVELS):
            disc = (si[0] - DISC_HEIGHT, si[0])
            boxes[IVD_LEVELS[i]] = ((1, 6), DISC_AP, disc)
            volume[1:6, DISC_AP[0]:DISC_AP[1], disc[0]:disc[1]] = DISC_VALUE
            mask[1:6, DISC_AP[0]:DISC_AP[1], disc[0]:disc[1]] = SPIDER_DISC_LABELS[IVD_LEVELS[i]]
        top = si[0] - DISC_HEIGHT
    volume[:, CANAL_AP[0]:CANAL_AP[1], 20:190] = CANAL_VALUE
    mask[:, CANAL_AP[0]:CANAL_AP[1], 20:190] = SPIDER_CANAL_LABEL
    return volume, mask, boxes


def structure(level: str):
    return next(s for s in STRUCTURES if s.level == level)


def test_placement_is_the_box_centre_and_width():
    _, mask, boxes = box_spine(vb_slices={"L2": (2, 5)})
    for level in ("L1", "L2", "L3-L4"):
        slices, ap, si = boxes[level]
        placement = place_structure(mask, structure(level).label, SPACING)
        assert placement.mid_slice == (slices[0] + slices[1] - 1) // 2
        assert placement.centre_ap == pytest.approx((ap[0] + ap[1] - 1) / 2)
        assert placement.centre_si == pytest.approx((si[0] + si[1] - 1) / 2)
        assert placement.width_mm == pytest.approx((ap[1] - ap[0]) * SPACING[1])
    assert place_structure(mask, 42, SPACING) is None


def test_width_ignores_tilt():
    # A 30 x 20 mm body tilted 20 degrees: its bounding box is 35 mm wide, the body still 30.
    yy, xx = np.mgrid[-30:30:0.5, -30:30:0.5]
    angle = np.radians(20.0)
    along = xx * np.cos(angle) + yy * np.sin(angle)
    across = -xx * np.sin(angle) + yy * np.cos(angle)
    inside = (np.abs(along) <= 15.0) & (np.abs(across) <= 10.0)
    points = np.stack([xx[inside], yy[inside]], axis=1)
    assert np.ptp(points[:, 0]) > 33.0
    assert structure_width(points, 0.5) == pytest.approx(30.0, rel=0.03)


def test_vb_crop_centre_extent_and_orientation():
    volume, mask, boxes = box_spine()
    placement = place_structure(mask, structure("L1").label, SPACING)
    crop = crop_structure(volume, SPACING, placement, (32, 32, 9))
    # Columns span CONTEXT x 20 mm = 40 mm: the 20 mm body covers the middle 16 columns exactly.
    assert CONTEXT == 2.0
    middle = crop[16, :, 4]
    assert np.allclose(middle[8:24], vb_value("L1"))
    assert not middle[:7].any()
    # Anterior left, posterior (the canal) right; superior (T12, darker) top, inferior (L2) bottom.
    assert crop[16, 28, 4] == pytest.approx(CANAL_VALUE)
    assert crop[1, 16, 4] == pytest.approx(vb_value("T12"))
    assert crop[30, 16, 4] == pytest.approx(vb_value("L2"))
    # Discs between: 8 mm at 1.25 mm per row, centred 12 mm above and below the body's centre.
    assert crop[16 - 10, 16, 4] == pytest.approx(DISC_VALUE)
    assert crop[16 + 9, 16, 4] == pytest.approx(DISC_VALUE)


def test_ivd_crop_is_half_as_tall_with_square_pixels():
    volume, mask, _ = box_spine()
    placement = place_structure(mask, structure("L2-L3").label, SPACING)
    crop = crop_structure(volume, SPACING, placement, (16, 32, 9))
    pixel = CONTEXT * 24.0 / 32  # 1.5 mm: the disc is 24 mm wide
    assert np.allclose(crop[8, 8:24, 4], DISC_VALUE)  # its 16 middle columns
    rows_of_disc = np.flatnonzero(np.isclose(crop[:, 16, 4], DISC_VALUE))
    # Rows land exactly on disc values between its first and last voxel centres, 7 mm apart.
    assert len(rows_of_disc) == pytest.approx((DISC_HEIGHT - 1) / pixel, abs=1)
    assert crop[0, 16, 4] == pytest.approx(vb_value("L2")) and crop[15, 16, 4] == pytest.approx(vb_value("L3"))


def test_slices_are_the_scans_own_zero_padded_to_nine():
    volume, mask, _ = box_spine(vb_slices={"L4": (2, 5)})   # 3 slices, mid slice 3
    placement = place_structure(mask, structure("L4").label, SPACING)
    crop = crop_structure(volume, SPACING, placement, (32, 32, 9))
    centre = crop[16, 16, :]
    # Slices 3-4..3+4 = -1..7 of a 7-slice scan: the first and last are padding.
    assert centre[0] == 0.0 and centre[8] == 0.0
    assert np.allclose(centre[3:6], vb_value("L4")) and not centre[[1, 2, 6, 7]].any()
    shifted = crop_structure(volume, SPACING, place_structure(mask, structure("L3").label, SPACING), (32, 32, 9))
    assert np.allclose(shifted[16, 16, 2:7], vb_value("L3"))  # L3 spans slices 1-5, mid 3


def test_normalisation_puts_the_neighbouring_vertebrae_median_at_one_half():
    volume, mask, _ = box_spine()
    rng = np.random.default_rng(0)
    textured = volume * rng.uniform(0.5, 1.5, volume.shape).astype(np.float32)
    for s in STRUCTURES:
        scale = normalisation_scale(textured, mask, s.neighbours)
        assert np.median(textured[np.isin(mask, s.neighbours)] * scale) == pytest.approx(0.5)
    crops = extract_structures(volume, mask, SPACING, scan_placements(mask, SPACING),
                               {"VB": (32, 32, 9), "IVD": (16, 32, 9)})
    # Equal-sized neighbours of values v-100 and v+100: median v, so a middle VB's centre is 0.5.
    for level in VB_LEVELS[1:-1]:
        assert crops[structure(level)][16, 16, 4] == pytest.approx(0.5)
    assert crops[structure("T12")][16, 16, 4] == pytest.approx(0.5 * 100 / 200)    # L1 alone
    assert crops[structure("S1")][16, 16, 4] == pytest.approx(0.5 * 700 / 600)     # L5 alone
    assert crops[structure("L4-L5")][8, 16, 4] == pytest.approx(0.5 * DISC_VALUE / 550)
    with pytest.raises(ValueError, match="median intensity"):
        normalisation_scale(np.zeros_like(volume), mask, (1, 2))


def write_scan(folder, volume, mask):
    folder.mkdir(parents=True, exist_ok=True)
    # Stored as (anterior, left, superior): axes swapped and left-right reversed; extraction must reorient.
    affine = np.array([[0.0, -SPACING[0], 0.0, SPACING[0] * (SHAPE[0] - 1)], [SPACING[1], 0.0, 0.0, 0.0],
                       [0.0, 0.0, SPACING[2], 0.0], [0.0, 0.0, 0.0, 1.0]])
    stored = np.transpose(volume, (1, 0, 2))[:, ::-1, :]
    stored_mask = np.transpose(mask, (1, 0, 2))[:, ::-1, :]
    nib.save(nib.Nifti1Image(np.ascontiguousarray(stored), affine), folder / "image.nii.gz")
    nib.save(nib.Nifti1Image(np.ascontiguousarray(stored_mask), affine), folder / "mask.nii.gz")
    return str(folder / "image.nii.gz"), str(folder / "mask.nii.gz")


def test_extract_vertebrae_writes_levels_in_order_with_grades(tmp_path, caplog):
    volume, mask, _ = box_spine()
    first = write_scan(tmp_path / "a", volume, mask)
    without_l5 = mask.copy()
    without_l5[mask == SPIDER_VERTEBRA_LABELS["L5"]] = 0
    second = write_scan(tmp_path / "b", volume, without_l5)
    scans = pd.DataFrame({
        "scan_key": ["scanB", "scanA"], "subject_key": ["subj", "subj"], "group_key": ["pair", "pair"],
        "timepoint": [1, 0], "nifti_path": [second[0], first[0]], "mask_path": [second[1], first[1]],
    })
    gradings = pd.DataFrame({"scan_key": ["scanA", "scanA"], "ivd_label": [1, 5], "pfirrmann_grade": [3, 1]})
    with caplog.at_level(logging.WARNING):
        index = extract_vertebrae(scans, gradings, tmp_path / "vb.npy", tmp_path / "ivd.npy", tmp_path / "index.tsv",
                                  vb_shape=[32, 32, 9], ivd_shape=[16, 32, 9])
    assert "['L5', 'S1']" in caplog.text  # S1's only neighbour is gone too
    assert list(index.columns) == INDEX_COLUMNS
    assert read_vertebrae_index(tmp_path / "index.tsv").equals(index)
    baseline = index[index["scan_key"] == "scanA"]  # timepoint 0 first
    assert list(index["scan_key"].iloc[:13]) == ["scanA"] * 13
    assert list(baseline.loc[baseline["kind"] == "VB", "level"]) == list(VB_LEVELS)
    assert list(baseline.loc[baseline["kind"] == "IVD", "level"]) == list(IVD_LEVELS)
    assert list(baseline.loc[baseline["kind"] == "VB", "level_index"]) == list(range(7))
    grades = baseline.set_index("level")["grade"]
    assert grades["L5-S1"] == 3 and grades["L1-L2"] == 1 and pd.isna(grades["T12-L1"]) and pd.isna(grades["L3"])
    follow_up = index[index["scan_key"] == "scanB"]
    assert list(follow_up.loc[follow_up["kind"] == "VB", "level"]) == ["T12", "L1", "L2", "L3", "L4"]
    vb, ivd = np.load(tmp_path / "vb.npy"), np.load(tmp_path / "ivd.npy")
    assert vb.shape == (12, 32, 32, 9) and ivd.shape == (12, 16, 32, 9) and vb.dtype == np.float16
    assert list(index.loc[index["kind"] == "VB", "row"]) == list(range(12))
    # The stored orientation was undone: L1's crop is the canonical one (anterior left, canal right).
    l1 = vb[int(baseline.set_index("level").loc["L1", "row"])]
    assert float(l1[16, 16, 4]) == pytest.approx(0.5, abs=1e-3)
    assert float(l1[16, 28, 4]) > 1.0 and float(l1[16, 3, 4]) == 0.0
    assert ndimage.center_of_mass(l1[:, :, 4] == l1[16, 16, 4])[1] == pytest.approx(15.5, abs=0.6)


def test_bad_shapes_fail_naming_the_key(tmp_path):
    with pytest.raises(ValueError, match="longitudinal.vb_shape"):
        extract_vertebrae(pd.DataFrame(), pd.DataFrame(columns=["scan_key", "ivd_label", "pfirrmann_grade"]),
                          tmp_path / "vb.npy", tmp_path / "ivd.npy", tmp_path / "i.tsv",
                          vb_shape=[32, 32], ivd_shape=[16, 32, 9])
