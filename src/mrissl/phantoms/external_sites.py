"""External sites for the seqclass transfer experiment (paper 000, Section 3.2 and Fig. 3).

The paper fine-tunes and tests on public datasets that hold a subset of the nine classes, from
other scanners and protocols: BraTS (T1, T2, FLAIR) and ADNI (T1, T2). Each site here renders its
classes with the brain cohort's protocol samplers and head model, on its own scanners, field
strengths, matrix, slice-thickness and noise ranges, and writes them in a public layout read by
the project's readers (BraTS 2021 or BIDS), so they enter the pipeline the way real data would.

A BraTS-like site also does what BraTS did to its data: every image is resampled onto one
isotropic grid in template space (BraTS: SRI24 at 1 mm, 240 x 240 x 155) and skull-stripped
(zero outside the template's brain mask). Sites do not write DICOM: the layouts are NIfTI.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import nibabel as nib
import numpy as np
from nibabel.processing import resample_from_to
from threadpoolctl import threadpool_limits

from mrissl.config import config_from_section
from mrissl.geometry import LPS_TO_RAS
from mrissl.phantoms import mr_physics as mr
from mrissl.phantoms.anatomy import grid_affine, mni_brain_mask, mni_head, random_subject_deformation
from mrissl.phantoms.brain import PROTOCOL_SAMPLERS, SCANNERS, BrainCohortConfig, Study, head_pose, render_series

log = logging.getLogger(__name__)

LAYOUTS = ("brats2021", "bids")
BRATS2021_TOKENS = {"T1": "t1", "T2": "t2", "FLAIR": "flair"}
BIDS_SUFFIXES = {"T1": "T1w", "T2": "T2w", "FLAIR": "FLAIR"}
# The BraTS box around the brain (mm, RAS): 240 x 240 x 155 as the SRI24 grid.
BRATS_BOX_MM = np.array([240.0, 240.0, 155.0])


@dataclasses.dataclass(frozen=True)
class ExternalSiteConfig:
    """One entry of ``phantom.external_sites`` (ranges are inclusive [low, high])."""

    layout: str                           # brats2021 | bids: the public layout the site is written in
    classes: tuple[str, ...]              # the classes this site holds (a subset of T1, T2, FLAIR)
    n_patients: int
    manufacturers: tuple[str, ...]
    field_strengths_t: tuple[float, ...]
    matrix: tuple[int, int]
    slice_thickness_mm: tuple[float, float]
    noise: tuple[float, float]
    bias_field: float
    max_slices: int                       # per series; beyond it 2D gaps widen and 3D partitions thicken
    resample_mm: float | None = None      # BraTS-like: resample to this isotropic template grid and skull-strip

    @classmethod
    def from_config(cls, name: str, section: dict) -> ExternalSiteConfig:
        config = config_from_section(cls, section, f"phantom.external_sites.{name}")
        if config.layout not in LAYOUTS:
            raise ValueError(f"phantom.external_sites.{name}.layout {config.layout!r} must be one of {LAYOUTS}")
        unsupported = sorted(set(config.classes) - set(BRATS2021_TOKENS))
        if unsupported or not config.classes:
            raise ValueError(f"phantom.external_sites.{name}.classes {list(config.classes)}: a site holds some of "
                             f"{list(BRATS2021_TOKENS)} (the classes of BraTS and ADNI)")
        unknown_vendors = sorted(set(config.manufacturers) - set(SCANNERS))
        if unknown_vendors:
            raise ValueError(f"phantom.external_sites.{name}.manufacturers {unknown_vendors} unknown; "
                             f"known: {sorted(SCANNERS)}")
        return config

    def scanner(self) -> BrainCohortConfig:
        """The acquisition ranges in the form the brain cohort's ``render_series`` takes."""
        return BrainCohortConfig(
            n_patients=self.n_patients, studies_per_patient=(1, 1), series_per_study=(1, len(self.classes)),
            matrix=self.matrix, epi_matrix=self.matrix, slice_thickness_mm=self.slice_thickness_mm,
            field_strengths_t=self.field_strengths_t, noise=self.noise, bias_field=self.bias_field,
            wrong_description_rate=0.0, max_slices=self.max_slices, max_slices_3d=self.max_slices,
        )


def template_grid(center_mm: np.ndarray, voxel_mm: float) -> tuple[tuple[int, int, int], np.ndarray]:
    """Shape and RAS affine of the BraTS box around ``center_mm`` at ``voxel_mm`` isotropic."""
    shape = tuple(int(n) for n in np.round(BRATS_BOX_MM / voxel_mm))
    affine = np.diag([voxel_mm, voxel_mm, voxel_mm, 1.0])
    affine[:3, 3] = center_mm - voxel_mm * (np.array(shape) - 1) / 2.0
    return shape, affine


def to_template(volume: np.ndarray, affine_lps: np.ndarray, scanner_to_template: np.ndarray,
                shape: tuple[int, int, int], affine: np.ndarray, brain: nib.Nifti1Image) -> np.ndarray:
    """An acquired volume resampled (trilinear) onto the template grid and skull-stripped with ``brain``.

    ``scanner_to_template`` is the study's linear map from scanner LPS to template RAS: BraTS' rigid
    and affine co-registration recovers that much of a subject's position and shape.
    """
    image = nib.Nifti1Image(volume, scanner_to_template @ affine_lps)
    resampled = resample_from_to(image, (shape, affine), order=1, mode="constant", cval=0.0)
    mask = resample_from_to(brain, (shape, affine), order=1, mode="constant", cval=0.0).get_fdata() >= 0.5
    return np.where(mask, np.clip(resampled.get_fdata(), 0.0, None), 0.0).astype(np.float32)


def _write_nifti(volume: np.ndarray, affine_ras: np.ndarray, path: Path) -> None:
    image = nib.Nifti1Image(volume.astype(np.float32), affine_ras)
    image.set_qform(affine_ras, code=1)
    image.set_sform(affine_ras, code=1)
    image.header.set_xyzt_units("mm", "sec")
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(image, path)


def _series_path(config: ExternalSiteConfig, data_dir: Path, patient: int, label: str) -> Path:
    if config.layout == "brats2021":
        case = f"BraTS2021_{patient + 1:05d}"
        return data_dir / case / f"{case}_{BRATS2021_TOKENS[label]}.nii.gz"
    subject = f"sub-{patient + 1:04d}"
    return data_dir / subject / "anat" / f"{subject}_{BIDS_SUFFIXES[label]}.nii.gz"


def _sidecar(study: Study, protocol, thickness: float) -> dict:
    """A BIDS sidecar with the acquisition fields in BIDS units (seconds), as dcm2niix writes them."""
    seq = protocol.sequence
    sidecar = {"Manufacturer": study.vendor, "ManufacturerModelName": study.model,
               "MagneticFieldStrength": study.field_t, "SeriesDescription": protocol.header["SeriesDescription"],
               "MRAcquisitionType": "3D" if protocol.three_d else "2D",
               "RepetitionTime": round(seq.tr / 1000.0, 6), "EchoTime": round(seq.te / 1000.0, 6),
               "FlipAngle": seq.flip_deg, "SliceThickness": thickness}
    if seq.ti is not None:
        sidecar["InversionTime"] = round(seq.ti / 1000.0, 6)
    return sidecar


def _patient(config: ExternalSiteConfig, seed: np.random.SeedSequence, patient: int, data_dir: Path) -> None:
    """One patient, one study on one of the site's scanners, one series per site class."""
    rng = np.random.default_rng(seed)
    head = mni_head()
    vendor = str(rng.choice(config.manufacturers))
    field_t = float(rng.choice(config.field_strengths_t))
    model = str(rng.choice(SCANNERS[vendor][field_t]))
    tissues = {name: mr.perturbed(mr.tissue(name, field_t), rng, 0.04) for name in head.tissues}
    deformation = random_subject_deformation(rng, head).after(head_pose(rng, head.brain_center))
    study = Study(vendor, model, field_t, tissues, deformation, {})
    for label in config.classes:
        protocol = PROTOCOL_SAMPLERS[label](rng, vendor, field_t)
        volume, affine_lps, thickness = render_series(head, study, protocol, config.scanner(), rng)
        path = _series_path(config, data_dir, patient, label)
        if config.resample_mm is not None:
            shape, affine = template_grid(head.brain_center, config.resample_mm)
            brain = nib.Nifti1Image(mni_brain_mask(), grid_affine())
            _write_nifti(to_template(volume, affine_lps, deformation.linear, shape, affine, brain), affine, path)
        else:
            _write_nifti(volume, LPS_TO_RAS @ affine_lps, path)
        if config.layout == "bids":
            path.with_name(path.name.replace(".nii.gz", ".json")).write_text(
                json.dumps(_sidecar(study, protocol, thickness), indent=2, sort_keys=True) + "\n")


def generate_external_site(config: ExternalSiteConfig, name: str, seed: int, data_dir: Path) -> int:
    """Write the site under ``data_dir`` in its layout; return the number of series written.

    Deterministic for ``seed`` and ``name``: each patient draws from its own child seed.
    """
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    site_key = int.from_bytes(name.encode(), "little") % 2**32
    patient_seeds = np.random.SeedSequence([seed, 40, site_key]).spawn(config.n_patients)
    # One core: BLAS threads only contend for it (small matrix products get slower on a busy machine).
    with threadpool_limits(limits=1, user_api="blas"):
        for patient, patient_seed in enumerate(patient_seeds):
            _patient(config, patient_seed, patient, data_dir)
            log.info("%s: patients done %d/%d", name, patient + 1, config.n_patients)
    if config.layout == "bids":
        (data_dir / "dataset_description.json").write_text(json.dumps(
            {"Name": f"mrissl external site {name} (paper 000, Fig. 3)", "BIDSVersion": "1.9.0",
             "DatasetType": "raw"}, indent=2) + "\n")
    return config.n_patients * len(config.classes)
