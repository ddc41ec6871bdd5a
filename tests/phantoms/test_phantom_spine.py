"""The lumbar spine phantom (paper 002): SPIDER layout, labels, cohort design, degeneration, VB fingerprints."""

from __future__ import annotations

import hashlib
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from mrissl.longitudinal.curation import RAW_SCAN_COLUMNS, link_cohort, read_raw_scans, read_scan_table
from mrissl.longitudinal.vertebrae import IVD_LEVELS, extract_vertebrae, read_vertebrae_index
from mrissl.figures import plt
from mrissl.phantoms.spine import (
    LUMBAR_DISCS,
    MIN_POSTERIOR_DISC_MM,
    TWIN_SHARE,
    ScanProtocol,
    SpineCohortConfig,
    AnatomyDraw,
    build_spine,
    draw_anatomy,
    generate_spine_cohort,
    render_points,
    scan_signals,
)
from mrissl.readers import read_dataset, read_spider_gradings
from mrissl.readers.spider import SPIDER_CANAL_LABEL, SPIDER_DISC_LABELS, SPIDER_GRADINGS, SPIDER_VERTEBRA_LABELS
from mrissl.longitudinal.figures import vertebrae_montage

SALT = "test-salt"


def cohort_config(**overrides) -> SpineCohortConfig:
    values = dict(
        n_subjects=10, n_followup=6, second_followup_fraction=0.2, twin_fraction=0.4, monozygotic_fraction=0.5,
        graded_fraction=0.8, followup_years=[8, 12], field_strengths_t=[1.5, 3.0], matrix=[64, 72],
        fov_mm=[280, 300], n_slices=[9, 11], slice_thickness_mm=[3.5, 4.5], noise=[0.01, 0.03], bias_field=0.3,
    )
    return SpineCohortConfig.from_config({**values, **overrides})


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    """The phantom read by the SPIDER reader, linked to subjects and extracted, as the rules do."""
    root = tmp_path_factory.mktemp("spine")
    generate_spine_cohort(cohort_config(), 11, root / "data", root / "scans.tsv", workers=2)
    manifest, quarantine = read_dataset("spider", root / "data", SALT, root / "nifti")
    graded, gradings_quarantine = read_spider_gradings(root / "data", SALT)
    assert quarantine.empty and gradings_quarantine.empty
    scans, gradings = link_cohort(manifest, read_raw_scans(root / "scans.tsv"), graded, SALT)
    scans.to_csv(root / "linked.tsv", sep="\t", index=False)
    gradings.to_csv(root / "gradings.tsv", sep="\t", index=False)
    extract_vertebrae(scans, gradings, root / "vb.npy", root / "ivd.npy", root / "index.tsv",
                      vb_shape=[32, 32, 9], ivd_shape=[16, 32, 9])
    return root


def test_config_rejects_unknown_keys_and_impossible_counts():
    with pytest.raises(ValueError, match="n_subject"):
        cohort_config(n_subject=3)
    with pytest.raises(ValueError, match="n_followup"):
        cohort_config(n_followup=11)
    with pytest.raises(ValueError, match="span at least a year"):
        cohort_config(followup_years=[10, 10.5])


def test_spider_layout_and_scan_table(cohort):
    scans = pd.read_csv(cohort / "scans.tsv", sep="\t", dtype=str, keep_default_na=False)
    assert list(scans.columns) == RAW_SCAN_COLUMNS
    images = sorted(p.name for p in (cohort / "data/images").iterdir())
    assert images == sorted(p.name for p in (cohort / "data/masks").iterdir())
    assert images == sorted(f"{scan}_t2.mha" for scan in scans["scan"])
    gradings = pd.read_csv(cohort / "data/radiological_gradings.csv")
    assert list(gradings.columns) == list(SPIDER_GRADINGS)
    manifest, _ = read_dataset("spider", cohort / "data", SALT, cohort / "nifti_again")
    assert len(manifest) == len(scans) and manifest["mask_path"].notna().all()
    assert set(manifest["label"]) == {"T2"} and set(manifest["acquisition_plane"]) == {"sagittal"}


def test_cohort_design_follow_ups_twins_fields(cohort):
    scans = pd.read_csv(cohort / "scans.tsv", sep="\t", keep_default_na=False)
    visits = scans.groupby("subject")["timepoint"].count()
    assert len(visits) == 10 and (visits > 1).sum() == 6 and (visits == 3).sum() == 1
    follow_ups = scans[scans["timepoint"] > 0]
    assert follow_ups["years_from_baseline"].between(8, 12).all()
    baseline_field = scans[scans["timepoint"] == 0].set_index("subject")["field_strength_t"]
    assert (follow_ups["field_strength_t"].to_numpy() != baseline_field[follow_ups["subject"]].to_numpy()).all()
    twins = scans[scans["twin_pair"] != ""].drop_duplicates("subject")
    assert twins.groupby("twin_pair")["subject"].count().eq(2).all() and len(twins) == 4
    assert twins.groupby("twin_pair")["zygosity"].nunique().eq(1).all()
    assert set(twins["zygosity"]) == {"MZ", "DZ"}


def test_masks_label_every_level_in_order(cohort):
    linked = pd.read_csv(cohort / "linked.tsv", sep="\t")
    for path in linked["mask_path"]:
        mask = np.asarray(nib.as_closest_canonical(nib.load(path)).dataobj)
        labels = set(np.unique(mask)) - {0}
        assert labels == {*SPIDER_VERTEBRA_LABELS.values(), *SPIDER_DISC_LABELS.values(), SPIDER_CANAL_LABEL}
        # Superior coordinate (canonical axis 2) falls from T12 through each disc to S1.
        order = ["T12", *[x for disc in IVD_LEVELS for x in (disc, disc.split("-")[1])]]
        labels = {**SPIDER_VERTEBRA_LABELS, **SPIDER_DISC_LABELS}
        heights = [np.argwhere(mask == labels[name])[:, 2].mean() for name in order]
        assert np.all(np.diff(heights) < 0), heights


def test_grades_never_improve(cohort):
    linked = pd.read_csv(cohort / "linked.tsv", sep="\t")
    gradings = pd.read_csv(cohort / "gradings.tsv", sep="\t").merge(linked, on="scan_key")
    assert gradings["pfirrmann_grade"].between(1, 4).all()
    assert gradings["subject_key"].nunique() == 8  # graded_fraction 0.8 of 10
    by_disc = gradings.sort_values("timepoint").groupby(["subject_key", "level"])["pfirrmann_grade"]
    assert (by_disc.diff().dropna() >= 0).all()


def test_same_subjects_vertebrae_look_alike_across_a_decade(cohort):
    index = pd.read_csv(cohort / "index.tsv", sep="\t")
    vb = np.load(cohort / "vb.npy").astype(np.float32)
    bodies = index[index["kind"] == "VB"]

    def features(row):
        x = vb[row][8:24, 8:24, 2:7].ravel()
        return (x - x.mean()) / (x.std() + 1e-6)

    same, other = [], []
    for level, at_level in bodies.groupby("level"):
        baseline, later = at_level[at_level["timepoint"] == 0], at_level[at_level["timepoint"] > 0]
        for b in baseline.itertuples():
            for f in later.itertuples():
                (same if f.subject_key == b.subject_key else other).append(np.mean(features(b.row) * features(f.row)))
    assert np.mean(same) > np.mean(other) + 0.1, (np.mean(same), np.mean(other))


def test_monozygotic_twins_share_more_anatomy_than_dizygotic():
    def heights(own_seed, pair_seed, zygosity):
        draw = AnatomyDraw(np.random.default_rng(own_seed), np.random.default_rng(pair_seed), TWIN_SHARE[zygosity])
        anatomy = draw_anatomy(draw, np.random.default_rng(own_seed), 50.0)
        return np.array([anatomy.body[name][0] for name in ("T12", "L1", "L2", "L3", "L4", "L5", "S1")])

    gaps = {}
    for zygosity in ("MZ", "DZ"):
        gaps[zygosity] = np.mean([np.abs(heights([p, 1], [p, 0], zygosity) - heights([p, 2], [p, 0], zygosity)).mean()
                                  for p in range(40)])
    assert gaps["MZ"] < 0.8 * gaps["DZ"]


def test_degenerating_discs_darken_and_lose_height_but_never_close_posteriorly():
    own = np.random.default_rng(3)
    anatomy = draw_anatomy(AnatomyDraw(own, None, 0.0), own, 60.0)
    signals = scan_signals(np.random.default_rng(0), ScanProtocol(1.5, 3500, 100, 128, 300, 13, 4.0, 0.0, 0.02, 0.2))
    heights, nucleus = {}, {}
    for grade in (1, 2, 3, 4):
        spine = build_spine(anatomy, {disc: grade for disc in LUMBAR_DISCS}, {})
        disc = next(d for d in spine.discs if d.name == "L4-L5")
        heights[grade] = np.linalg.norm(disc.upper.endplate(-1) - disc.lower.endplate(+1))
        # Just below the centre (off the cleft), with the spine's own points around it.
        centre = (disc.upper.endplate(-1) + disc.lower.endplate(+1)) / 2.0 - [0.0, 0.0, 1.5]
        across = np.linspace(-100.0, 100.0, 201, dtype=np.float32)  # an antero-posterior line through it
        x, ant, sup = np.full_like(across, centre[0]), centre[1] + across, np.full_like(across, centre[2])
        signal, label, _ = render_points(spine, anatomy, signals, x, ant, sup, np.zeros((2, 2, 2), np.float32),
                                         (np.full(3, -1e3), 2e3))
        assert label[100] == SPIDER_DISC_LABELS["L4-L5"]
        nucleus[grade] = signal[100]
        for d in spine.discs:
            if d.grade:  # posterior height: mid-height minus the wedge over half the depth
                wedge = d.lower.endplate_angle(+1) - d.upper.endplate_angle(-1)
                mid = np.linalg.norm(d.upper.endplate(-1) - d.lower.endplate(+1))
                assert mid - wedge * (d.lower.a + d.upper.a) / 4.0 >= MIN_POSTERIOR_DISC_MM - 1e-6
    assert heights[1] > heights[2] > heights[3] > heights[4]
    assert nucleus[1] > nucleus[2] > nucleus[3] > nucleus[4] >= signals["disc_annulus"] * 0.9
    assert nucleus[1] > 2.5 * nucleus[4], nucleus


def test_same_seed_same_bytes(tmp_path):
    config = cohort_config(n_subjects=2, n_followup=1, twin_fraction=1.0, graded_fraction=1.0)
    digests = []
    for run in ("a", "b"):
        generate_spine_cohort(config, 5, tmp_path / run / "data", tmp_path / run / "scans.tsv")
        files = sorted(p for p in (tmp_path / run).rglob("*") if p.is_file())
        digests.append({p.relative_to(tmp_path / run): hashlib.sha256(p.read_bytes()).hexdigest() for p in files})
    assert digests[0] == digests[1] and len(digests[0]) == 8


def test_montage_shows_both_visits_of_one_subject(cohort):
    index = read_vertebrae_index(cohort / "index.tsv")
    figure = vertebrae_montage(np.load(cohort / "vb.npy", mmap_mode="r"), np.load(cohort / "ivd.npy", mmap_mode="r"),
                               index, read_scan_table(cohort / "linked.tsv"))
    titles = [ax.get_title() for ax in figure.axes]
    assert len(figure.axes) == 2 * (1 + 7 + 6)
    assert titles[0].startswith("baseline") and sum(t.startswith("follow-up") for t in titles) == 1
    assert titles.count("L4") == 2 and sum(t.startswith("L5-S1") for t in titles) == 2
    plt.close(figure)
