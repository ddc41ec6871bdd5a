"""The brain-pathology cohort of study ``clip`` (paper 003): DWI b1000, T2* and FLAIR with a report.

Each subject has one class (infarct, tumour, haemorrhage, normal, other; paper 003 Table 1), a
main lesion of that class (``lesions``), perhaps incidental white-matter change, and one study
(sometimes a follow-up, in which acute lesions have evolved). A study is three 2D series drawn
from the brain cohort's protocol samplers (FLAIR, non-SWI T2* GRE, DWI trace at b = 1000) and
rendered by its scanner model, each with its own matrix, slice thickness, field of view and tilt,
and with the head moved between series by a random rigid motion about the brain centre: the
series must be registered before they can be stacked (``mrissl.clip.registration``).

Written as a BIDS raw dataset (what the ``bids`` reader takes)::

    data/dataset_description.json, participants.tsv
    data/sub-0001/ses-01/anat/sub-0001_ses-01_FLAIR.nii.gz (+ .json)
    data/sub-0001/ses-01/anat/sub-0001_ses-01_T2starw.nii.gz (+ .json)
    data/sub-0001/ses-01/dwi/sub-0001_ses-01_dwi.nii.gz (+ .json, .bval, .bvec): the 3D b1000 trace

and three side tables keyed by BIDS subject and session: ``reports.tsv`` (subject, session,
report), ``labels.tsv`` (true class, the class a keyword classifier reads from the report, the
lesion) and ``motion.tsv`` (the true rigid map from each study's FLAIR scanner frame to its
T2* and DWI frames, LPS mm, for checking registration).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
from scipy.spatial.transform import Rotation
from threadpoolctl import threadpool_limits

from mrissl.config import config_from_section
from mrissl.geometry import LPS_TO_RAS
from mrissl.phantoms import mr_physics as mr
from mrissl.phantoms.anatomy import HeadModel, mni_head, random_subject_deformation
from mrissl.phantoms.brain import (
    INSTITUTIONS,
    PROTOCOL_SAMPLERS,
    SCANNERS,
    BrainCohortConfig,
    Protocol,
    Study,
    head_pose,
    render_series,
)
from mrissl.phantoms.lesions import Lesion, class_lesion, small_vessel_disease, with_lesions
from mrissl.phantoms.pathology_reports import CLASSES, report_class, write_report
from mrissl.phantoms.scanner import Deformation, vendor_intensity_scale

log = logging.getLogger(__name__)

# Sequence -> (BIDS folder, BIDS suffix, the brain cohort's protocol class).
SEQUENCES = {"FLAIR": ("anat", "FLAIR", "FLAIR"), "T2star": ("anat", "T2starw", "GRE"), "DWI": ("dwi", "dwi", "TraceW")}
REFERENCE_SEQUENCE = "FLAIR"
B_VALUE = 1000.0  # paper 003 uses the DWI b1000 trace
MAX_SLICES = 48   # enough for a 2D stack to cover the brain at 3 mm slices
REPORTS_COLUMNS = ["subject", "session", "report"]
LABELS_COLUMNS = ["subject", "session", "true_class", "report_class", "finding", "incidental"]
MOTION_COLUMNS = ["subject", "session", "sequence", "rotation_deg", "translation_mm", "transform_lps"]


@dataclasses.dataclass(frozen=True)
class PathologyCohortConfig:
    """``phantom.pathology`` of the config (ranges are inclusive [low, high])."""

    n_subjects: int
    follow_up_rate: float                 # share of subjects with a second study (rounded to whole subjects)
    class_weights: dict[str, float]       # share of subjects per class
    matrix: tuple[int, int]               # in-plane matrix range (DWI uses its low end)
    slice_thickness_mm: tuple[float, float]
    field_strengths_t: tuple[float, ...]
    noise: tuple[float, float]            # Rician sigma relative to the brightest tissue
    bias_field: float
    motion_mm: float                      # head translation between series: magnitude in [0.3, 1] x this
    motion_deg: float                     # head rotation between series: angle in [0.3, 1] x this
    report_noise: float                   # share of reports phrased so the keyword classifier misreads them

    @classmethod
    def from_config(cls, section: dict) -> PathologyCohortConfig:
        config = config_from_section(cls, section, "phantom.pathology")
        if set(config.class_weights) != set(CLASSES) or not all(w >= 0 for w in config.class_weights.values()):
            raise ValueError(f"phantom.pathology.class_weights must give a weight >= 0 to each of {list(CLASSES)}")
        return config

    def scanner(self) -> BrainCohortConfig:
        """The acquisition ranges in the form the brain cohort's ``render_series`` takes."""
        return BrainCohortConfig(
            n_patients=self.n_subjects, studies_per_patient=(1, 2), series_per_study=(3, 3), matrix=self.matrix,
            epi_matrix=(self.matrix[0], self.matrix[0] + 0.35 * (self.matrix[1] - self.matrix[0])),  # DWI: the low end
            slice_thickness_mm=self.slice_thickness_mm, field_strengths_t=self.field_strengths_t, noise=self.noise,
            bias_field=self.bias_field, wrong_description_rate=0.0, max_slices=MAX_SLICES, max_slices_3d=MAX_SLICES,
        )


def class_counts(weights: dict[str, float], n: int) -> dict[str, int]:
    """``n`` split over the classes in proportion to ``weights`` (largest remainder, ties in class order)."""
    total = sum(weights.values())
    exact = {c: n * weights[c] / total for c in CLASSES}
    counts = {c: int(np.floor(v)) for c, v in exact.items()}
    for c in sorted(CLASSES, key=lambda c: (counts[c] - exact[c], CLASSES.index(c)))[: n - sum(counts.values())]:
        counts[c] += 1
    return counts


def rigid_motion(rng: np.random.Generator, center: np.ndarray, max_mm: float, max_deg: float) -> np.ndarray:
    """A 4x4 rigid map of scanner LPS mm: rotation about ``center`` plus a translation, both 'several' units."""
    axis, direction = rng.normal(size=3), rng.normal(size=3)
    angle = np.radians(max_deg * rng.uniform(0.3, 1.0))
    rotation = Rotation.from_rotvec(axis / np.linalg.norm(axis) * angle).as_matrix()
    motion = np.eye(4)
    motion[:3, :3] = rotation
    motion[:3, 3] = center - rotation @ center + direction / np.linalg.norm(direction) * max_mm * rng.uniform(0.3, 1.0)
    return motion


def series_protocol(rng: np.random.Generator, sequence: str, vendor: str, field_t: float) -> Protocol:
    """A 2D protocol of the sequence's class (3D slabs and SWI are redrawn: a capped slice count
    would not cover the brain, and paper 003 uses T2*-weighted GRE); DWI at b = 1000."""
    sampler = PROTOCOL_SAMPLERS[SEQUENCES[sequence][2]]
    protocol = sampler(rng, vendor, field_t)
    while protocol.three_d:
        protocol = sampler(rng, vendor, field_t)
    if sequence == "DWI":
        protocol = dataclasses.replace(
            protocol, sequence=dataclasses.replace(protocol.sequence, b_value=B_VALUE),
            header={**protocol.header, "DiffusionBValue": B_VALUE},
        )
    return protocol


def _sidecar(protocol: Protocol, study: Study, thickness: float, institution: str) -> dict:
    """The BIDS JSON sidecar: acquisition fields in BIDS units (seconds), as dcm2niix writes them."""
    seq = protocol.sequence
    sidecar = {
        "Manufacturer": study.vendor, "ManufacturerModelName": study.model, "MagneticFieldStrength": study.field_t,
        "InstitutionName": institution, "SeriesDescription": protocol.header.get("SeriesDescription", ""),
        "ScanningSequence": protocol.header.get("ScanningSequence"), "MRAcquisitionType": "2D",
        "RepetitionTime": round(seq.tr / 1000.0, 6), "EchoTime": round(seq.te / 1000.0, 6),
        "FlipAngle": seq.flip_deg, "SliceThickness": thickness,
    }
    if seq.ti is not None:
        sidecar["InversionTime"] = round(seq.ti / 1000.0, 6)
    return sidecar


def _write_nifti(volume: np.ndarray, affine_lps: np.ndarray, path: Path, scale: float) -> None:
    """int16 with a scale slope (as dcm2niix writes scanner data); RAS affine in qform and sform."""
    affine = LPS_TO_RAS @ affine_lps
    image = nib.Nifti1Image(volume * np.float32(scale), affine)
    image.set_data_dtype(np.int16)
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(image, path)


def _study(rng: np.random.Generator, head: HeadModel, lesions: list[Lesion], subject_deformation: Deformation,
           config: PathologyCohortConfig, folder: Path, stem: str) -> list[dict]:
    """Render and write one study's three series; return its motion rows."""
    lesioned = with_lesions(head, lesions)
    coarse = lesioned.block_averaged(2)
    field_t = float(config.field_strengths_t[int(rng.integers(len(config.field_strengths_t)))])
    vendor = str(rng.choice(list(SCANNERS)))
    model = str(rng.choice(SCANNERS[vendor][field_t]))
    institution = str(rng.choice(INSTITUTIONS))
    tissues = {name: mr.perturbed(mr.tissue(name, field_t), rng, 0.04) for name in lesioned.tissues}
    reference_pose = head_pose(rng, head.brain_center)
    reference = subject_deformation.after(reference_pose)
    center = (np.linalg.inv(reference.linear) @ np.append(head.brain_center, 1.0))[:3]
    motions = []
    for sequence, (bids_folder, suffix, _) in SEQUENCES.items():
        if sequence == REFERENCE_SEQUENCE:
            motion = np.eye(4)
        else:
            motion = rigid_motion(rng, center, config.motion_mm, config.motion_deg)
        # A head point at q in the reference frame is at motion @ q now: scanner -> subject is pose @ motion^-1.
        pose = reference_pose @ np.linalg.inv(motion)
        study = Study(vendor, model, field_t, tissues, subject_deformation.after(pose), {})
        protocol = series_protocol(rng, sequence, vendor, field_t)
        volume, affine_lps, thickness = render_series(lesioned, study, protocol, config.scanner(), rng,
                                                      coarse_head=coarse)
        scale = vendor_intensity_scale(rng, vendor, float(volume.max()))
        path = folder / bids_folder / f"{stem}_{suffix}.nii.gz"
        _write_nifti(volume, affine_lps, path, scale)
        sidecar = _sidecar(protocol, study, thickness, institution)
        path.with_name(f"{stem}_{suffix}.json").write_text(json.dumps(sidecar, indent=2, sort_keys=True) + "\n")
        if sequence == "DWI":
            path.with_name(f"{stem}_{suffix}.bval").write_text(f"{B_VALUE:g}\n")
            path.with_name(f"{stem}_{suffix}.bvec").write_text("0\n0\n0\n")  # a trace has no direction
        if sequence != REFERENCE_SEQUENCE:
            angle = float(np.degrees(Rotation.from_matrix(motion[:3, :3]).magnitude()))
            shift = float(np.linalg.norm(motion[:3, :3] @ center + motion[:3, 3] - center))
            motions.append({"sequence": sequence, "rotation_deg": round(angle, 3), "translation_mm": round(shift, 3),
                            "transform_lps": ",".join(f"{v:.6f}" for v in motion[:3].ravel())})
    return motions


def _subject(config: PathologyCohortConfig, seed: np.random.SeedSequence, index: int, label: str,
             n_studies: int, data_dir: Path) -> tuple[dict, list[dict], list[dict], list[dict]]:
    """One subject: participant row, and per study its report, label and motion rows."""
    rng = np.random.default_rng(seed)
    head = mni_head()
    subject = f"sub-{index + 1:04d}"
    age = int(rng.integers(20, 91))
    participant = {"participant_id": subject, "age": age, "sex": str(rng.choice(["F", "M"]))}
    deformation = random_subject_deformation(rng, head)
    main = class_lesion(rng, head, label)
    # Small-vessel white-matter change becomes common with age (incidental in every class).
    incidental = [small_vessel_disease(rng, head)] if rng.random() < np.clip((age - 40) / 60.0, 0.05, 0.7) else []
    reports, labels, motions = [], [], []
    for s in range(n_studies):
        session = f"ses-{s + 1:02d}"
        if s > 0 and main is not None:
            main = main.evolved()
        lesions = ([main] if main is not None else []) + incidental
        stem = f"{subject}_{session}"
        study_motions = _study(rng, head, lesions, deformation, config, data_dir / subject / session, stem)
        report = write_report(rng, label, main, incidental, misread=rng.random() < config.report_noise)
        reports.append({"subject": subject, "session": session, "report": report})
        labels.append({
            "subject": subject, "session": session, "true_class": label, "report_class": report_class(report),
            "finding": f"{main.kind}: {main.location}" if main is not None else "none",
            "incidental": ",".join(lesion.kind for lesion in incidental),
        })
        motions += [{"subject": subject, "session": session, **row} for row in study_motions]
    return participant, reports, labels, motions


def generate_pathology_cohort(
    config: PathologyCohortConfig, seed: int, data_dir: Path, reports_path: Path, labels_path: Path,
    motion_path: Path,
) -> pd.DataFrame:
    """Write the BIDS dataset under ``data_dir`` and the three side tables; return the labels table.

    Deterministic for ``seed``: class counts follow ``class_weights`` exactly (largest remainder)
    and ``follow_up_rate`` of the subjects (rounded) have a second study, both shuffled by the seed;
    each subject draws from its own child seed.
    """
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    counts = class_counts(config.class_weights, config.n_subjects)
    order = np.random.default_rng(np.random.SeedSequence([seed, 30]))
    classes = order.permutation([c for c in CLASSES for _ in range(counts[c])])
    followed = order.permutation(config.n_subjects) < round(config.follow_up_rate * config.n_subjects)
    subject_seeds = np.random.SeedSequence([seed, 31]).spawn(config.n_subjects)
    participants, reports, labels, motions = [], [], [], []
    # One core: BLAS threads only contend for it (small matrix products get slower on a busy machine).
    with threadpool_limits(limits=1, user_api="blas"):
        for index, (label, subject_seed) in enumerate(zip(classes, subject_seeds)):
            n_studies = 2 if followed[index] else 1
            participant, r, lab, m = _subject(config, subject_seed, index, str(label), n_studies, data_dir)
            participants.append(participant)
            reports += r
            labels += lab
            motions += m
            log.info("subjects done %d/%d", index + 1, config.n_subjects)
    (data_dir / "dataset_description.json").write_text(json.dumps(
        {"Name": "mrissl brain pathology phantom (paper 003)", "BIDSVersion": "1.9.0", "DatasetType": "raw"},
        indent=2) + "\n")
    pd.DataFrame(participants).to_csv(data_dir / "participants.tsv", sep="\t", index=False)
    labels_table = pd.DataFrame(labels, columns=LABELS_COLUMNS)
    for table, path, columns in ((pd.DataFrame(reports), reports_path, REPORTS_COLUMNS),
                                 (labels_table, labels_path, LABELS_COLUMNS),
                                 (pd.DataFrame(motions), motion_path, MOTION_COLUMNS)):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        table.reindex(columns=columns).to_csv(path, sep="\t", index=False)
    agreement = float((labels_table["true_class"] == labels_table["report_class"]).mean())
    log.info("%d subjects, %d studies; report-derived class agrees with the truth in %.0f%% of studies",
             config.n_subjects, len(labels_table), 100 * agreement)
    return labels_table
