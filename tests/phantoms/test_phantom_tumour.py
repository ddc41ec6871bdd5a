"""The paediatric tumour phantom: Table 6 proportions, marker associations, masks, locations, layout."""

from __future__ import annotations

import hashlib
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from mrissl.vocabulary import LOCATIONS, MARKERS
from mrissl.phantoms.tumour import (
    SEG_LABELS,
    TumourCohortConfig,
    allot_markers,
    draw_tumour,
    generate_tumour_cohort,
    location_of,
    posterior_fossa,
)
from mrissl.readers import read_dataset

TABLE6_DATASET1 = {"braf_fusion": 137, "braf_v600e": 67, "other": 137}
TABLE6_DATASET2 = {"braf_fusion": 48, "braf_v600e": 28, "other": 54}


def cohort_config(**overrides) -> TumourCohortConfig:
    values = dict(
        n_patients=24, first_subject=1, matrix=[60, 60, 39], years=[2000, 2018],
        manufacturers=["SIEMENS", "GE MEDICAL SYSTEMS"], field_strengths_t=[1.5, 3.0], slice_thickness_mm=[1.0, 5.0],
        noise=[0.01, 0.04], bias_field=0.2, marker_weights=TABLE6_DATASET1, reports=True,
    )
    return TumourCohortConfig.from_config({**values, **overrides})


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tumour_internal")
    generate_tumour_cohort(cohort_config(), 7, "tumour_internal", root / "data", root / "clinical.tsv",
                           root / "reports.tsv")
    return root


def test_allot_markers_gives_table6_exactly():
    for weights in (TABLE6_DATASET1, TABLE6_DATASET2):
        n = sum(weights.values())
        counts = pd.Series(allot_markers(n, weights)).value_counts().to_dict()
        assert counts == weights
    small = pd.Series(allot_markers(40, TABLE6_DATASET1)).value_counts()
    assert small.sum() == 40
    for marker, weight in TABLE6_DATASET1.items():
        assert abs(small[marker] - 40 * weight / 341) < 1.0


def test_marker_proportions_and_associations_on_a_larger_sample():
    rng = np.random.default_rng(0)
    markers = allot_markers(3000, TABLE6_DATASET1)
    shares = pd.Series(markers).value_counts(normalize=True)
    for marker, weight in TABLE6_DATASET1.items():
        assert shares[marker] == pytest.approx(weight / 341, abs=0.002)
    drawn = pd.DataFrame([vars(draw_tumour(rng, m)) for m in markers])
    by_marker = drawn.groupby("marker")
    infratentorial = by_marker["location"].apply(lambda s: (s == "infratentorial").mean())
    supratentorial = by_marker["location"].apply(lambda s: (s == "supratentorial").mean())
    # Fusion: mostly infratentorial (cerebellar pilocytic), cystic, well-circumscribed; V600E: supratentorial,
    # less circumscribed. Not perfectly: every marker occurs in every location and with every feature value.
    assert infratentorial["braf_fusion"] > 0.5 > infratentorial["braf_v600e"]
    assert supratentorial["braf_v600e"] > 0.6 > supratentorial["braf_fusion"]
    cystic = by_marker["cystic"].mean()
    assert cystic["braf_fusion"] > cystic["braf_v600e"] + 0.15
    circumscribed = by_marker["well_circumscribed"].mean()
    assert circumscribed["braf_fusion"] > circumscribed["braf_v600e"] + 0.3
    for marker in MARKERS:
        assert set(drawn.loc[drawn["marker"] == marker, "location"]) == set(LOCATIONS)
        assert 0.05 < cystic[marker] < 0.95 and 0.05 < circumscribed[marker] < 0.95
    # Sites carry their location class; lateral sites come on both sides.
    assert set(drawn.loc[drawn["site"] == "cerebellar hemisphere", "location"]) == {"infratentorial"}
    assert set(drawn.loc[drawn["site"] == "temporal lobe", "side"]) == {"left", "right"}


def test_posterior_fossa_holds_the_cerebellum_and_brainstem_only():
    inside = [(26, -64, -38), (0, -66, -32), (0, -26, -34), (0, -40, -54), (-26, -64, -38)]
    outside = [(44, -18, -12), (12, -18, 8), (0, -2, -8), (22, -80, 12), (28, 32, 28), (-32, -48, 38)]
    assert posterior_fossa(*np.array(inside).T).all()
    assert not posterior_fossa(*np.array(outside).T).any()
    assert [location_of(s) for s in (0.0, 0.5, 1.0)] == ["supratentorial", "transtentorial", "infratentorial"]


def test_masks_lie_in_the_brain_and_in_their_location(cohort):
    clinical = pd.read_csv(cohort / "clinical.tsv", sep="\t")
    assert len(clinical) == 24
    for case in clinical.itertuples():
        folder = cohort / "data" / f"{case.subject}-000"
        image = nib.load(folder / f"{case.subject}-000-t2f.nii.gz")
        seg_image = nib.load(folder / f"{case.subject}-000-seg.nii.gz")
        assert np.allclose(image.affine, seg_image.affine) and image.shape == seg_image.shape == (60, 60, 39)
        assert nib.aff2axcodes(image.affine) == ("L", "P", "S")  # BraTS: LPS voxel order
        volume, seg = image.get_fdata(), np.asarray(seg_image.dataobj)
        assert set(np.unique(seg)) <= {0, *SEG_LABELS.values()}
        assert np.all(volume[seg > 0] > 0), f"{case.subject}: mask outside the skull-stripped brain"
        core = np.isin(seg, [SEG_LABELS["solid"], SEG_LABELS["cyst"]])
        assert core.sum() >= 8, f"{case.subject}: tumour core of {core.sum()} voxels"
        assert (SEG_LABELS["cyst"] in seg) <= case.cystic  # a cyst label only where the tumour has a cyst
        world = nib.affines.apply_affine(image.affine, np.argwhere(core))
        share = posterior_fossa(*world.T).mean()
        assert location_of(share) == case.location, f"{case.subject} at the {case.site}: {share:.2f} below"
        solid = seg == SEG_LABELS["solid"]
        if solid.sum() >= 5:  # pLGG solid parts are FLAIR hyperintense
            assert np.median(volume[solid]) > 1.05 * np.median(volume[(volume > 0) & (seg == 0)]), case.subject


def test_reports_clinical_table_and_reader(cohort, tmp_path):
    clinical = pd.read_csv(cohort / "clinical.tsv", sep="\t")
    reports = pd.read_csv(cohort / "reports.tsv", sep="\t")
    assert list(reports["subject"]) == list(clinical["subject"])
    for case, report in zip(clinical.itertuples(), reports["report"]):
        assert case.site in report and "FINDINGS:" in report and "IMPRESSION:" in report
        assert " x " in report and " cm" in report
    # The brats2023 reader takes a release of FLAIR and seg only: nothing quarantined for missing t1n/t1c/t2w.
    manifest, quarantine = read_dataset("brats2023", cohort / "data", "salt", tmp_path / "nifti")
    assert quarantine.empty
    assert len(manifest) == len(clinical) and set(manifest["label"]) == {"FLAIR"}
    assert manifest["mask_path"].notna().all()


def test_same_seed_same_bytes_and_cohorts_differ(tmp_path):
    config = cohort_config(n_patients=2, matrix=[24, 24, 16], reports=False)

    def digest(root: Path) -> dict[str, str]:
        return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(root.rglob("*")) if p.is_file()}

    for run in ("a", "b"):
        generate_tumour_cohort(config, 3, "tumour_internal", tmp_path / run / "data", tmp_path / run / "clinical.tsv",
                               tmp_path / run / "reports.tsv")
    generate_tumour_cohort(config, 3, "tumour_external", tmp_path / "c" / "data", tmp_path / "c" / "clinical.tsv",
                           tmp_path / "c" / "reports.tsv")
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")
    assert pd.read_csv(tmp_path / "a" / "reports.tsv", sep="\t").empty  # reports: false -> header only


def test_config_errors_name_the_problem():
    with pytest.raises(ValueError, match="missing keys"):
        TumourCohortConfig.from_config({"n_patients": 3})
    with pytest.raises(ValueError, match="marker_weights"):
        cohort_config(marker_weights={"braf_fusion": 1, "other": 1})
