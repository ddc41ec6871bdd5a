"""The embedded brain cohort: multi-sequence brain MRI studies exported from a fake PACS.

Each patient has 1-3 studies on one scanner each (Siemens, GE or Philips at 1.5 T or 3 T), each
study a random subset of the nine series classes of paper 000 (T1, T2, FLAIR, TOF, TraceW, DWI,
ADC, GRE, Perfusion). A series' protocol (family, TR/TE/TI/flip/b, resolution, plane, obliquity,
fat saturation, contrast agent) is drawn from wide clinical ranges per class and vendor, its image
rendered from the template head through the subject's deformation and the scanner model, and its
header written the way that vendor writes it (descriptions sometimes generic, empty or wrong).
The verified class goes only to ``labels.tsv``; ``truth.tsv`` records what the ingest must recover.

Where the phantom follows real exports, and why (sources in the functions' docstrings):

- Coverage: whole-brain series span the brain along their normal. 3D acquisitions have partitions
  as thin as their pixels up to ``max_slices_3d``, thicker beyond (never a thin slab: TOF alone
  covers a slab, the circle of Willis); 2D stacks widen their gap rather than stop short.
- Resolution: EPI (diffusion, perfusion) at about half the structural matrix (``epi_matrix`` vs
  ``matrix``), as clinical 128 vs 256-512, so EPI's blur is the cue it is in real data.
- Subjects: ventricles larger with age (``anatomy.ventricle_pull``), age-related white-matter
  change, and a share of patients (``finding_rate``) with a tumour, infarct, demyelination,
  haemorrhage or cyst from ``phantoms.lesions`` that evolves at follow-ups; post-contrast T1 in
  about a third; motion ghosting in ``motion_rate`` of the series (``scanner.motion_ghosts``);
  susceptibility distortion and dephasing from the head's field map in EPI and gradient echoes.
- Headers: the b-value where each vendor keeps it in a classic export (``b_value_tags``: private
  tags, the standard one only on some software); derived maps inherit timings, except half of GE's
  ADC series, which carry none (our assumption, no source gives the rate); GE writes a generic
  ImageType and its exam protocol as ProtocolName; descriptions are wrong, generic or empty in
  ``wrong_description_rate`` of the series (paper 000, Introduction: defaults left unchanged by busy
  technologists).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from mrissl.config import config_from_section
from mrissl.phantoms import mr_physics as mr
from mrissl.phantoms.anatomy import HeadModel, coarse_mni_head, mni_head, random_subject_deformation
from mrissl.geometry import LPS_TO_RAS
from mrissl.phantoms.dicom import deterministic_uid, write_series
from mrissl.phantoms.lesions import Lesion, class_lesion, small_vessel_disease, with_lesions
from mrissl.phantoms.scanner import (
    Deformation,
    EpiDistortion,
    acquire,
    acquisition_region,
    plan_acquisition,
    small_rotation,
    vendor_intensity_scale,
)

log = logging.getLogger(__name__)

CLASSES = ("T1", "T2", "FLAIR", "TOF", "TraceW", "DWI", "ADC", "GRE", "Perfusion")
TRUTH_COLUMNS = [
    "series_instance_uid", "study_instance_uid", "patient_id", "patient_name", "patient_birth_date",
    "accession_number", "label", "b_value", "acquisition_plane", "shape", "affine_ras", "field_strength_t", "n_files",
]
# b_value: set for the volumes of a series that holds several (b=0 and trace), empty otherwise.
LABEL_COLUMNS = ["SeriesInstanceUID", "b_value", "label"]
MIN_SLICES = 8
# Large tissues whose brightest signal sets the noise level ("relative to the brightest tissue").
NOISE_REFERENCE_TISSUES = ("csf", "gm", "wm", "fat", "muscle", "marrow")
CIRCLE_OF_WILLIS_MNI = np.array([0.0, -5.0, -18.0])
# Extent of a whole-brain acquisition along its slice normal (mm): head height, width, length.
BRAIN_COVERAGE_MM = {"axial": (120, 150), "sagittal": (130, 150), "coronal": (150, 180)}
COARSE_GRID_FROM_MM = 3.5  # acquisitions with pixels and slices at least this large sample the 4 mm head
# Object margin around an acquired grid: elastic displacement, EPI shift and blur reach this far.
REGION_MARGIN_MM = 30.0

SIEMENS, GE, PHILIPS = "SIEMENS", "GE MEDICAL SYSTEMS", "Philips Medical Systems"
SCANNERS = {
    SIEMENS: {1.5: ["Avanto", "Aera", "Avanto_fit", "Espree"],
              3.0: ["Skyra", "Prisma_fit", "Verio", "TrioTim", "MAGNETOM Vida"]},
    GE: {1.5: ["Signa HDxt", "Optima MR450w", "SIGNA Artist"], 3.0: ["DISCOVERY MR750", "SIGNA Premier", "Signa HDxt"]},
    PHILIPS: {1.5: ["Ingenia", "Achieva"], 3.0: ["Ingenia", "Achieva dStream", "Ingenia Elition X"]},
}
SOFTWARE = {
    SIEMENS: ["syngo MR E11", "syngo MR B17", "syngo MR XA20"],
    GE: ["27\\LX\\MR Software release:DV26.0_R02", "25\\LX\\MR Software release:DV25.1_R03"],
    PHILIPS: ["5.6.1\\5.6.1.0", "5.3.1\\5.3.1.2"],
}
ORIENTATION = {
    SIEMENS: {"axial": ["tra"], "sagittal": ["sag"], "coronal": ["cor"]},
    GE: {"axial": ["Ax", "AX", "AXIAL"], "sagittal": ["Sag", "SAG"], "coronal": ["Cor", "COR"]},
    PHILIPS: {"axial": ["TRA", "tra", "AX"], "sagittal": ["SAG", "sag"], "coronal": ["COR", "cor"]},
}
INSTITUTIONS = ["Riverside General Hospital", "St. Aldric University Hospital", "Northgate Neurology Institute",
                "Lakeshore Medical Center", "Kingsbridge Imaging Clinic", "Valley Regional Medical Centre"]
STUDY_DESCRIPTIONS = ["MRI BRAIN WITHOUT CONTRAST", "MRI BRAIN WITH AND WITHOUT CONTRAST", "MR Kopf nativ",
                      "Head^Neuro", "BRAIN ROUTINE", "MR HEAD", "NEURO^BRAIN", "MRI HEAD W/O"]
EXAM_PROTOCOLS = ["BRAIN ROUTINE", "BRAIN W/WO", "STROKE", "MRA HEAD", "NEURO_HEAD", "TUMOUR BRAIN"]
SURNAMES = ["ABERNATHY", "BABINGTON", "CALLOWAY", "DELACROIX", "FAIRWEATHER", "GALLAGHER", "HARGREAVES",
            "INGERSOLL", "JABLONSKI", "KOWALCZYK", "LINDQVIST", "MONTGOMERY", "NAKAMURA", "OKONKWO", "PEMBERTON",
            "QUINTERO", "RASMUSSEN", "SORENSEN", "TAKAHASHI", "UNDERHILL", "WHITFIELD", "YAMAMOTO", "ZIELINSKI",
            "CASTELLANO", "FITZGERALD", "MORIARTY", "OYELARAN", "PETROVIC", "RUTHERFORD", "THORNBURY",
            "WAINWRIGHT", "BEAUCHAMP", "DIMITROV", "ESPOSITO", "FIGUEROA", "IWASAKI", "JORGENSEN", "LANCASTER",
            "NWACHUKWU", "OSTROWSKI", "PELLEGRINO", "RADCLIFFE", "SANDOVAL", "VANDERBERG", "KARLSSON"]
GIVEN_NAMES = {
    "F": ["ABIGAIL", "BEATRICE", "CORDELIA", "DOROTHEA", "ELEANOR", "FLORENCE", "GENEVIEVE", "HARRIET",
          "ISABELLA", "JOSEPHINE", "KATARINA", "LUCINDA", "MARGARET", "NATALIA", "OPHELIA", "PENELOPE",
          "ROSALIND", "SERAPHINA", "THEODORA", "VALENTINA", "WILHELMINA", "YOLANDA"],
    "M": ["AUGUSTUS", "BARTHOLOMEW", "CORNELIUS", "DESMOND", "EBENEZER", "FITZWILLIAM", "HORATIO",
          "IGNATIUS", "JEREMIAH", "LYSANDER", "MAXIMILIAN", "NATHANIEL", "OCTAVIUS", "PERCIVAL", "REGINALD",
          "SEBASTIAN", "THADDEUS", "ULYSSES", "VALENTIN", "WINSTON", "LEOPOLD", "AMBROSE"],
}
GENERIC_DESCRIPTIONS = ["", "MR BRAIN", "Series", "NEURO", "routine", "3D", "AX", "unnamed", "Reformat", "SE", "head"]


@dataclasses.dataclass(frozen=True)
class BrainCohortConfig:
    """``phantom.brain`` of the config (ranges are inclusive [low, high])."""

    n_patients: int
    studies_per_patient: tuple[int, int]
    series_per_study: tuple[int, int]
    matrix: tuple[int, int]               # structural series' in-plane matrix
    epi_matrix: tuple[int, int]           # EPI (diffusion, perfusion): about half the structural one
    slice_thickness_mm: tuple[float, float]
    field_strengths_t: tuple[float, ...]
    noise: tuple[float, float]
    bias_field: float
    wrong_description_rate: float
    # Slices per 2D / 3D series at most. Both still cover the brain: a 2D stack widens its gap, a 3D
    # slab thickens its partitions (writing DICOM files dominates the cohort's run time).
    max_slices: int = 24
    max_slices_3d: int = 24
    finding_rate: float = 0.0             # patients with a lesion (tumour, infarct, demyelination, ...)
    motion_rate: float = 0.0              # series with motion ghosting

    @classmethod
    def from_config(cls, brain: dict) -> BrainCohortConfig:
        config = config_from_section(cls, brain, "phantom.brain")
        for key in ("max_slices", "max_slices_3d"):
            if getattr(config, key) < MIN_SLICES:
                raise ValueError(f"phantom.brain.{key} {getattr(config, key)} must be at least {MIN_SLICES}")
        if not 1 <= config.series_per_study[0] <= config.series_per_study[1] <= len(CLASSES):
            raise ValueError(f"phantom.brain.series_per_study {config.series_per_study} must lie within "
                             f"1..{len(CLASSES)} (the number of classes)")
        return config


@dataclasses.dataclass(frozen=True)
class Protocol:
    """One series as drawn: contrast, geometry and the vendor-specific header fields."""

    label: str
    sequence: mr.Sequence
    plane: str
    three_d: bool
    epi: bool = False
    coverage_mm: float | None = None  # along the slice normal; None: the whole brain for the plane
    target: str = "brain"          # brain | willis: where the slices are centred
    b0_sequence: mr.Sequence | None = None  # ADC maps: the b=0 acquisition beside ``sequence``
    slabs: int = 1                 # TOF multi-slab: inflow saturation across each slab
    averages: int = 1              # NEX; diffusion-weighted images are averaged more
    header: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Study:
    vendor: str
    model: str
    field_t: float
    tissues: dict[str, mr.Tissue]
    deformation: Deformation
    header: dict


def _pick(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


def _uniform(rng: np.random.Generator, lo: float, hi: float, decimals: int = 1) -> float:
    return round(float(rng.uniform(lo, hi)), decimals)


def _plane(rng: np.random.Generator, weights: tuple[float, float, float]) -> str:
    """axial, sagittal, coronal with the given weights."""
    return str(rng.choice(["axial", "sagittal", "coronal"], p=np.array(weights) / sum(weights)))


def _description(rng: np.random.Generator, vendor: str, plane: str, variant: tuple[str, str]) -> str:
    token = _pick(rng, ORIENTATION[vendor][plane])
    return _pick(rng, DESCRIPTIONS[variant][vendor]).format(o=token, O=token.upper())


# SeriesDescription templates per (class, variant) and vendor; {o} is the vendor's orientation token.
DESCRIPTIONS = {
    ("T1", "se"): {SIEMENS: ["t1_se_{o}", "t1_tse_{o}", "t1_se_{o}_p2", "T1_SE_{O}"],
                   GE: ["{o} T1 SE", "{o} T1 FSE", "{O} T1"], PHILIPS: ["T1W_SE_{o}", "T1W_TSE_{o}", "sT1W_SE"]},
    ("T1", "ir"): {SIEMENS: ["t1_tirm_{o}", "t1_flair_{o}", "t1_tir_{o}"], GE: ["{o} T1 FLAIR", "{O} T1 FLAIR"],
                   PHILIPS: ["T1W_IR_{o}", "T1W_FLAIR_{o}"]},
    ("T1", "mprage"): {SIEMENS: ["t1_mprage_{o}_p2_iso", "t1_mprage_{o}", "MPRAGE", "t1_mpr_{o}_iso"],
                       GE: ["{o} 3D BRAVO", "{o} T1 BRAVO", "3D T1 BRAVO"],
                       PHILIPS: ["T1W_3D_TFE", "sT1W_3D_TFE_{o}", "3D_T1_TFE"]},
    ("T1", "spgr"): {SIEMENS: ["t1_fl3d_{o}", "t1_vibe_{o}", "t1_fl3d_{o}_p2_iso"],
                     GE: ["{o} T1 3D FSPGR", "{o} 3D SPGR", "3D FSPGR"], PHILIPS: ["T1_FFE_3D", "T1W_3D_FFE_{o}"]},
    ("T2", "2d"): {SIEMENS: ["t2_tse_{o}", "t2_tse_{o}_p2", "t2_blade_{o}", "t2_tse_{o}_320"],
                   GE: ["{o} T2 FSE", "{o} T2 FRFSE", "{O} T2 PROPELLER", "{o} T2"],
                   PHILIPS: ["T2W_TSE_{o}", "T2_TSE_{O}", "sT2W_TSE"]},
    ("T2", "3d"): {SIEMENS: ["t2_spc_{o}_p2_iso", "T2_SPACE_{O}"], GE: ["{o} T2 CUBE", "{o} CUBE T2"],
                   PHILIPS: ["3D_T2W_VISTA", "T2W_3D_TSE_{o}"]},
    ("FLAIR", "2d"): {SIEMENS: ["t2_tirm_{o}_dark-fluid", "t2_flair_{o}", "FLAIR_{O}", "t2_tirm_{o}_dark-fluid_p2"],
                      GE: ["{o} T2 FLAIR", "{O} FLAIR", "FLAIR_{O}"],
                      PHILIPS: ["FLAIR_{O}", "T2W_FLAIR_{o}", "T2_FLAIR"]},
    ("FLAIR", "3d"): {SIEMENS: ["t2_space_dark-fluid_{o}_p2_iso", "3D_FLAIR_{O}", "t2_spc_da-fl_{o}_p2_iso"],
                      GE: ["{o} CUBE FLAIR", "{o} T2 FLAIR CUBE", "3D FLAIR"],
                      PHILIPS: ["3D_FLAIR", "VISTA_FLAIR_{o}", "3D_BRAIN_VIEW_FLAIR"]},
    ("TOF", "3d"): {SIEMENS: ["tof_3d_multi-slab", "tof_fl3d_{o}_p2_multi-slab", "3D_TOF_3slab", "TOF_3D_multi-slab"],
                    GE: ["{o} 3D TOF", "3D TOF COW", "{o} TOF MRA", "3D TOF CIRCLE OF WILLIS"],
                    PHILIPS: ["TOF_3D_multi_slab", "sTOF_3D", "3D_TOF_{o}", "MRA_TOF"]},
    ("GRE", "2d"): {SIEMENS: ["t2_fl2d_{o}_hemo", "t2_fl2d_{o}_hemosiderin", "T2*", "t2_fl2d_{o}"],
                    GE: ["{o} GRE", "{o} T2* GRE", "{O} GRE T2*"],
                    PHILIPS: ["T2*_FFE", "FFE_T2*_{o}", "T2_FFE_{O}", "sT2*W_FFE"]},
    ("GRE", "swi"): {SIEMENS: ["SWI_Images", "t2_swi_{o}_p2_1.5mm", "SWI", "Mag_Images"],
                     GE: ["{o} SWAN", "SWAN", "{o} SWI"], PHILIPS: ["SWIp", "SWI", "SWI_{o}", "VenBOLD"]},
    ("TraceW", "epi"): {SIEMENS: ["ep2d_diff_3scan_trace_p2_TRACEW", "ep2d_diff_{o}_TRACEW",
                                  "ep2d_diff_mddw_{o}_TRACEW", "ep2d_diff_3scan_trace_p2"],
                        GE: ["{o} DWI b1000", "{o} DIFFUSION", "DWI_1000", "{o} DWI"],
                        PHILIPS: ["DWI_{o}", "DWI_SSh_{o}", "isoDWI", "DWI_b1000"]},
    ("DWI", "epi"): {SIEMENS: ["ep2d_diff_3scan_trace_p2", "ep2d_diff_{o}_b0", "ep2d_diff_{o}", "DWI"],
                     GE: ["{o} DWI", "{o} DWI b0", "{o} DIFFUSION ASSET", "DWI"],
                     PHILIPS: ["DWI_{o}", "DWI_SSh", "DWI_b0", "sDWI_{o}"]},
    ("ADC", "epi"): {SIEMENS: ["ep2d_diff_3scan_trace_p2_ADC", "ep2d_diff_{o}_ADC", "ADC"],
                     GE: ["Apparent Diffusion Coefficient (mm2/s)", "ADC", "{o} DWI ADC"],
                     PHILIPS: ["dADC", "DWI_{o}_ADC", "ADC"]},
    ("Perfusion", "epi"): {SIEMENS: ["ep2d_perf", "ep2d_perf_p2", "ep2d_perf_{o}", "PERFUSION"],
                           GE: ["{o} DSC PERFUSION", "PWI", "{o} Perfusion", "PERFUSION DSC"],
                           PHILIPS: ["PERFUSION_DSC", "FE_EPI_PERF", "dyn_perf_{o}", "DSC_PERF"]},
}
POST_CONTRAST_SUFFIXES = {SIEMENS: ["_KM", "_post", "_Gd"], GE: [" +C", " POST", "+C"], PHILIPS: ["_GD", "+C", "_post"]}
CONTRAST_AGENTS = ["GADOBUTROL", "Gadovist", "Dotarem", "MultiHance"]


# --- per-class protocol samplers: (rng, vendor, field) -> Protocol ---------------------------------
# Parameters span each class's clinical range at the field strength; vendors differ in naming and tags.

def _t1(rng, vendor, field_t) -> Protocol:
    kind = _pick(rng, ["se", "se", "ir", "mprage", "mprage", "spgr"])
    gd = float(rng.uniform(0.3, 0.8)) if rng.random() < 0.35 else 0.0  # post-contrast: blood T1 shortened
    if kind == "se":
        plane = _plane(rng, (6, 3, 1))
        seq = mr.Sequence("SE", field_t, tr=_uniform(rng, 400, 750 if field_t < 2 else 900, 0),
                          te=_uniform(rng, 8, 20), gd_blood_mm=gd)
        header = _tags(vendor, "SE", False, etl=int(rng.integers(1, 5)))
    elif kind == "ir":
        plane = _plane(rng, (7, 2, 1))
        # T1-FLAIR: an inversion time near the CSF null of its (short) TR.
        tr = _uniform(rng, 1800, 3000, 0)
        ti = round(float(mr.null_inversion_time(mr.tissue("csf", field_t).t1, tr) * rng.uniform(0.9, 1.05)), 0)
        seq = mr.Sequence("IR", field_t, tr=tr, te=_uniform(rng, 8, 25), ti=ti, gd_blood_mm=gd)
        header = _tags(vendor, "IR", False, etl=int(rng.integers(4, 10)))
    elif kind == "mprage":
        plane = _plane(rng, (3, 5, 2))
        ti = _uniform(rng, 700, 1000, 0) if field_t < 2 else _uniform(rng, 800, 1100, 0)
        seq = mr.Sequence("IR-GRE", field_t, tr=_uniform(rng, 1800, 2500, 0), te=_uniform(rng, 2.2, 4.5, 2), ti=ti,
                          flip_deg=_uniform(rng, 7, 12, 0), readout_ms=_uniform(rng, 400, 800, 0), gd_blood_mm=gd)
        header = _tags(vendor, "IR-GRE", True)
        if vendor != SIEMENS:  # GE and Philips report the readout TR and the prepulse delay
            header.update(RepetitionTime=_uniform(rng, 6.5, 9.5, 2), InversionTime=_uniform(rng, 450, 1000, 0))
    else:
        plane = _plane(rng, (5, 3, 2))
        seq = mr.Sequence("GRE", field_t, tr=_uniform(rng, 8, 25), te=_uniform(rng, 2, 5, 2),
                          flip_deg=_uniform(rng, 15, 30, 0), gd_blood_mm=gd, arterial_inflow=0.3, venous_inflow=0.2)
        header = _tags(vendor, "GRE", True)
    description = _description(rng, vendor, plane, ("T1", kind))
    if gd:
        description += _pick(rng, POST_CONTRAST_SUFFIXES[vendor])
        if rng.random() < 0.5:
            header["ContrastBolusAgent"] = _pick(rng, CONTRAST_AGENTS)
    return Protocol("T1", seq, plane, three_d=kind in ("mprage", "spgr"),
                    header={**header, "SeriesDescription": description})


def _t2(rng, vendor, field_t) -> Protocol:
    three_d = rng.random() < 0.2
    plane = _plane(rng, (2, 5, 3)) if three_d else _plane(rng, (7, 1, 2))
    tr = _uniform(rng, 2500, 3200, 0) if three_d else _uniform(rng, 2500, 6500, 0)
    seq = mr.Sequence("SE", field_t, tr=tr, te=_uniform(rng, 70, 130, 0), fat_saturation=rng.random() < 0.2)
    etl = int(rng.integers(80, 200)) if three_d else int(rng.integers(8, 25))
    header = _tags(vendor, "SE", three_d, etl=etl, fat_sat=seq.fat_saturation)
    description = _description(rng, vendor, plane, ("T2", "3d" if three_d else "2d"))
    return Protocol("T2", seq, plane, three_d, header={**header, "SeriesDescription": description})


def _flair(rng, vendor, field_t) -> Protocol:
    three_d = rng.random() < 0.3
    plane = _plane(rng, (2, 6, 2)) if three_d else _plane(rng, (7, 1, 2))
    tr = _uniform(rng, 4800, 6000, 0) if three_d else _uniform(rng, 7000, 11000, 0)
    # Protocols set TI near the CSF null for their TR; imperfect nulling is common.
    jitter = rng.uniform(0.95, 1.05) if three_d else rng.uniform(0.92, 1.06)
    ti = round(float(mr.null_inversion_time(mr.tissue("csf", field_t).t1, tr) * jitter), 0)
    # 3D (variable-flip TSE) FLAIR: the T2-equivalent echo time of its long echo train.
    te = _uniform(rng, 110, 140, 0) if three_d else _uniform(rng, 80, 140, 0)
    seq = mr.Sequence("IR", field_t, tr=tr, te=te, ti=ti, fat_saturation=rng.random() < 0.3)
    etl = int(rng.integers(100, 250)) if three_d else int(rng.integers(12, 30))
    header = _tags(vendor, "IR", three_d, etl=etl, fat_sat=seq.fat_saturation)
    description = _description(rng, vendor, plane, ("FLAIR", "3d" if three_d else "2d"))
    return Protocol("FLAIR", seq, plane, three_d, header={**header, "SeriesDescription": description})


def _tof(rng, vendor, field_t) -> Protocol:
    plane = _plane(rng, (20, 1, 1))
    # Short TR saturates static tissue (plus an MT pulse, mostly); fresh arterial blood flows in unsaturated,
    # venous inflow is killed by a saturation band.
    seq = mr.Sequence("GRE", field_t, tr=_uniform(rng, 20, 38), te=_uniform(rng, 3.0, 7.0, 2),
                      flip_deg=_uniform(rng, 18, 25, 0),
                      mt_saturation=float(rng.uniform(0.5, 1.0)) if rng.random() < 0.7 else 0.0,
                      arterial_inflow=float(rng.uniform(0.7, 1.0)), venous_inflow=0.0)
    header = _tags(vendor, "GRE", True, tof=True)
    description = _description(rng, vendor, plane, ("TOF", "3d"))
    return Protocol("TOF", seq, plane, True, coverage_mm=_uniform(rng, 50, 90, 0), target="willis",
                    slabs=int(rng.integers(1, 5)), header={**header, "SeriesDescription": description})


def _gre(rng, vendor, field_t) -> Protocol:
    swi = rng.random() < 0.4
    plane = _plane(rng, (8, 1, 1))
    if swi:
        te = _uniform(rng, 35, 45) if field_t < 2 else _uniform(rng, 18, 30)
        seq = mr.Sequence("GRE", field_t, tr=_uniform(rng, 27, 50), te=te, flip_deg=_uniform(rng, 12, 20, 0),
                          venous_contrast=float(rng.uniform(0.25, 0.6)), venous_inflow=0.1)
    else:
        te = _uniform(rng, 18, 30) if field_t < 2 else _uniform(rng, 12, 25)
        seq = mr.Sequence("GRE", field_t, tr=_uniform(rng, 400, 900, 0), te=te, flip_deg=_uniform(rng, 15, 25, 0),
                          arterial_inflow=0.4, venous_inflow=0.2)
    header = _tags(vendor, "GRE", swi, swi=swi)
    description = _description(rng, vendor, plane, ("GRE", "swi" if swi else "2d"))
    return Protocol("GRE", seq, plane, swi, header={**header, "SeriesDescription": description})


def _diffusion_sequence(rng, field_t, b_value: float) -> mr.Sequence:
    """Spin-echo EPI with fat saturation, as every clinical DWI."""
    te = _uniform(rng, 75, 110, 0) if field_t < 2 else _uniform(rng, 55, 95, 0)
    return mr.Sequence("SE", field_t, tr=_uniform(rng, 3000, 9000, 0), te=te, b_value=b_value, fat_saturation=True)


def _tracew(rng, vendor, field_t) -> Protocol:
    b = float(rng.choice([1000, 1000, 1000, 800, 1500, 2000]))
    plane = _plane(rng, (12, 1, 1))
    header = _tags(vendor, "EPI-SE", False, image_type={SIEMENS: ["DERIVED", "PRIMARY", "DIFFUSION", "TRACEW", "ND"]})
    description = _description(rng, vendor, plane, ("TraceW", "epi"))
    return Protocol("TraceW", _diffusion_sequence(rng, field_t, b), plane, False, epi=True,
                    averages=int(rng.integers(1, 4)) + int(b > 1000),
                    header={**header, "DiffusionBValue": b, "SeriesDescription": description})


def _dwi(rng, vendor, field_t) -> Protocol:
    b = float(rng.choice([0, 0, 0, 0, 0, 0, 50, 50, 100, 500]))
    plane = _plane(rng, (12, 1, 1))
    header = _tags(vendor, "EPI-SE", False, image_type={SIEMENS: ["ORIGINAL", "PRIMARY", "DIFFUSION", "NONE", "ND"]})
    description = _description(rng, vendor, plane, ("DWI", "epi"))
    return Protocol("DWI", _diffusion_sequence(rng, field_t, b), plane, False, epi=True,
                    header={**header, "DiffusionBValue": b, "SeriesDescription": description})


def _adc(rng, vendor, field_t) -> Protocol:
    b = float(rng.choice([1000, 1000, 1000, 800, 1500]))
    plane = _plane(rng, (12, 1, 1))
    high = _diffusion_sequence(rng, field_t, b)
    header = _tags(vendor, "EPI-SE", False, image_type={
        SIEMENS: ["DERIVED", "PRIMARY", "DIFFUSION", "ADC", "ND"], GE: ["DERIVED", "PRIMARY", "ADC"],
        PHILIPS: ["DERIVED", "PRIMARY", "ADC", "ADC"]})
    description = _description(rng, vendor, plane, ("ADC", "epi"))
    return Protocol("ADC", high, plane, False, epi=True, averages=int(rng.integers(1, 4)),
                    b0_sequence=dataclasses.replace(high, b_value=0.0),
                    header={**header, "SeriesDescription": description})


def _perfusion(rng, vendor, field_t) -> Protocol:
    plane = _plane(rng, (15, 1, 1))
    # One dynamic of the DSC series: before the bolus, or somewhere in its first pass.
    bolus = 0.0 if rng.random() < 0.5 else float(rng.uniform(0.5, 8.0))
    te = _uniform(rng, 38, 50, 0) if field_t < 2 else _uniform(rng, 25, 35, 0)
    seq = mr.Sequence("GRE", field_t, tr=_uniform(rng, 1200, 2000, 0), te=te, flip_deg=_uniform(rng, 35, 90, 0),
                      fat_saturation=True, gd_blood_mm=bolus, arterial_inflow=0.2)
    header = _tags(vendor, "EPI-GRE", False, image_type={SIEMENS: ["ORIGINAL", "PRIMARY", "PERFUSION", "NONE", "ND"]})
    if bolus and rng.random() < 0.5:
        header["ContrastBolusAgent"] = _pick(rng, CONTRAST_AGENTS)
    description = _description(rng, vendor, plane, ("Perfusion", "epi"))
    return Protocol("Perfusion", seq, plane, False, epi=True, coverage_mm=_uniform(rng, 80, 120, 0),
                    header={**header, "SeriesDescription": description})


PROTOCOL_SAMPLERS = {"T1": _t1, "T2": _t2, "FLAIR": _flair, "TOF": _tof, "TraceW": _tracew, "DWI": _dwi,
                     "ADC": _adc, "GRE": _gre, "Perfusion": _perfusion}


def _tags(vendor: str, family: str, three_d: bool, *, etl: int = 1, fat_sat: bool = False, tof: bool = False,
          swi: bool = False, image_type: dict | None = None) -> dict:
    """ScanningSequence, SequenceVariant, ImageType, ... as each vendor writes them for a sequence family."""
    scanning, variant = {
        "SE": ("SE", "SK\\SP\\OSP"), "IR": ("SE\\IR", "SK\\SP\\MP\\OSP"), "GRE": ("GR", "SP\\OSP"),
        "IR-GRE": ("GR\\IR", "SK\\SP\\MP"), "EPI-SE": ("EP", "SK\\SP"), "EPI-GRE": ("EP", "SK\\SP"),
    }[family]
    if vendor == GE:
        scanning = {"IR-GRE": "GR", "EPI-SE": "EP\\SE", "EPI-GRE": "EP\\GR", "IR": "IR"}.get(family, scanning)
        variant = {"SE": "SK\\OSP", "GRE": "SS\\SP", "IR-GRE": "SS\\SP\\SK", "IR": "SK\\MP"}.get(family, variant)
    elif vendor == PHILIPS:
        scanning = {"IR": "IR", "IR-GRE": "GR", "EPI-GRE": "GR"}.get(family, scanning)
        variant = {"SE": "SK", "GRE": "SP", "IR-GRE": "MP\\SK", "IR": "SK\\MP", "EPI-SE": "SK",
                   "EPI-GRE": "SK"}.get(family, variant)
    philips_kind = {"SE": "SE", "IR": "IR", "EPI-SE": "SE"}.get(family, "FFE")
    default_type = {
        SIEMENS: ["ORIGINAL", "PRIMARY", "M", "ND"] + (["NORM"] if family in ("SE", "IR") else []),
        GE: ["ORIGINAL", "PRIMARY", "OTHER"],
        PHILIPS: ["ORIGINAL", "PRIMARY", f"M_{philips_kind}", "M", philips_kind],
    }[vendor]
    if swi and vendor == SIEMENS:
        default_type = ["DERIVED", "PRIMARY", "M", "SWI", "ND"]
    options = [o for o, on in (("FS", fat_sat), ("SAT1", tof), ("PFP", tof or family.startswith("EPI"))) if on]
    return {
        "ScanningSequence": scanning,
        "SequenceVariant": variant,
        "ScanOptions": "\\".join(options) if options else None,
        "MRAcquisitionType": "3D" if three_d else "2D",
        "ImageType": (image_type or {}).get(vendor, default_type),
        "EchoTrainLength": etl,
    }


# --- rendering ----------------------------------------------------------------------------------

def _slice_geometry(rng, config: BrainCohortConfig, protocol: Protocol) -> tuple[float, float, int, int, float]:
    """Thickness, gap, number of slices, matrix and FOV for a protocol within the config's ranges.

    Whole-brain series cover the brain along their slice normal (``BRAIN_COVERAGE_MM``), as clinical
    protocols do: a 3D acquisition with partitions as thin as its pixels where ``max_slices_3d``
    allows, else thicker ones; a 2D stack with its drawn thickness and a gap widened (up to the
    thickness) where ``max_slices`` would not reach. TOF and perfusion cover their own slab.
    """
    lo, hi = config.slice_thickness_mm
    if protocol.three_d:
        matrix, fov = _matrix_and_fov(rng, config, protocol)
        coverage = protocol.coverage_mm or rng.uniform(*BRAIN_COVERAGE_MM[protocol.plane])
        thickness = round(max(fov / matrix, lo, coverage / config.max_slices_3d), 1)
        return thickness, 0.0, max(MIN_SLICES, int(round(coverage / thickness))), matrix, fov
    if rng.random() < 0.8:  # the usual 2D range; sometimes anything in the config's range
        lo = lo + 0.4 * (hi - lo)
    thickness = round(float(rng.uniform(lo, hi)), 1)
    gap = round(thickness * float(rng.choice([0.0, 0.1, 0.2, 0.3])), 2)
    coverage = protocol.coverage_mm or rng.uniform(*BRAIN_COVERAGE_MM[protocol.plane])
    if coverage / (thickness + gap) > config.max_slices:
        gap = round(min(coverage / config.max_slices - thickness, thickness), 2)
    n_slices = int(np.clip(round(coverage / (thickness + gap)), MIN_SLICES, config.max_slices))
    matrix, fov = _matrix_and_fov(rng, config, protocol)
    return thickness, gap, n_slices, matrix, fov


def _matrix_and_fov(rng, config: BrainCohortConfig, protocol: Protocol) -> tuple[int, float]:
    m_lo, m_hi = config.epi_matrix if protocol.epi else config.matrix
    matrix = int(round(rng.uniform(m_lo, m_hi) / 2.0) * 2)
    if protocol.epi:
        return matrix, _uniform(rng, 220, 250, 0)
    return matrix, _uniform(rng, 220 if protocol.plane == "axial" else 230, 260, 0)


def render_volumes(
    head: HeadModel, study: Study, protocol: Protocol, config: BrainCohortConfig, rng: np.random.Generator,
    coarse_head: HeadModel | None = None,
) -> tuple[list[np.ndarray], np.ndarray, float]:
    """The series' volumes (i, j, k), its LPS affine and its slice thickness: one volume, or the b=0
    and the weighted one of a diffusion series exported together (``b0_sequence``, not an ADC map).

    Low-resolution acquisitions sample ``coarse_head`` (default: the 4 mm template); a cohort that
    adds lesions to ``head`` passes ``head.block_averaged(2)`` so they show at every resolution.
    """
    seq = protocol.sequence
    thickness, gap, n_slices, matrix, fov = _slice_geometry(rng, config, protocol)
    target = head.brain_center if protocol.target == "brain" else CIRCLE_OF_WILLIS_MNI
    center = np.linalg.inv(study.deformation.linear) @ np.append(target, 1.0)
    # EPI is phase-encoded AP on axials (distortion at the frontal sinus); others along the short axis.
    phase_axis = 1 if (protocol.epi and protocol.plane == "axial") else 0
    acquisition = plan_acquisition(
        protocol.plane, center[:3] + rng.normal(0, 4.0, 3), fov_mm=fov, matrix=matrix,
        phase_fov=1.0 if protocol.epi or protocol.plane != "axial" else _uniform(rng, 0.75, 1.0, 2),
        phase_axis=phase_axis, n_slices=n_slices, slice_thickness_mm=thickness, slice_gap_mm=gap,
        rotation=small_rotation(rng, 12.0),
    )
    # Only the part of the head the grid reaches, at a resolution the acquisition can see.
    if min(fov / matrix, thickness) >= COARSE_GRID_FROM_MM:
        source = coarse_head if coarse_head is not None else coarse_mni_head()
    else:
        source = head
    obj = source.cropped(acquisition_region(acquisition, study.deformation, source.affine,
                                            source.fractions.shape[1:], REGION_MARGIN_MM))
    sequences = [seq] if protocol.b0_sequence is None else [protocol.b0_sequence, seq]
    images = [_object_image(obj, study, s, thickness) for s in sequences]
    # Noise is set by the unweighted (b=0) signal; a trace image averages three directions.
    unweighted = dataclasses.replace(seq, b_value=0.0)
    reference = max(mr.tissue_signal(study.tissues[t], unweighted) for t in NOISE_REFERENCE_TISSUES)
    sigma = float(rng.uniform(*config.noise)) * reference
    sigmas = [sigma / np.sqrt(3.0 * protocol.averages) if s.b_value > 0 else sigma for s in sequences]
    epi = None
    if protocol.epi:
        # Phase-encode bandwidth per pixel: acceleration R over (lines x echo spacing of 0.5-0.9 ms).
        echo_spacing_s = rng.uniform(0.5e-3, 0.9e-3)
        bandwidth = float(rng.choice([1.0, 2.0, 2.0, 3.0])) / (acquisition.shape[phase_axis] * echo_spacing_s)
        mm_per_ppm = mr.GYROMAGNETIC_MHZ_PER_T * study.field_t / bandwidth * fov / matrix
        epi = EpiDistortion(obj.field_ppm, obj.affine, mm_per_ppm * float(rng.choice([-1.0, 1.0])))
    # Noise draws get their own stream: how many depends on the volume size, and the cohort's design
    # (studies, classes, protocols) should not shift when a size setting changes.
    noise_rng = np.random.default_rng(rng.integers(2**63))
    # Drawn only when the cohort has motion, so that cohorts without it keep their random streams.
    moved = config.motion_rate > 0 and rng.random() < config.motion_rate
    volumes = acquire(
        images, obj.affine, acquisition, study.deformation, noise_rng, noise_sigmas=sigmas,
        bias_amplitude=config.bias_field * float(rng.uniform(0.3, 1.0)), epi=epi,
        epi_blur_px=float(rng.uniform(0.3, 1.0)) if protocol.epi else 0.0,
        ghost=float(rng.uniform(0.01, 0.05)) if protocol.epi else 0.0,
        motion=float(rng.uniform(0.05, 0.25)) if moved else 0.0,
    )
    if protocol.label == "ADC":
        volume = _adc_map(volumes[0], volumes[1], seq.b_value, threshold=4.0 * sigma)
    elif protocol.b0_sequence is not None:  # a diffusion series exported with its b=0 volume
        return [v.astype(np.float32) for v in volumes], acquisition.affine_lps, thickness
    else:
        volume = volumes[0]
    if protocol.slabs > 1:
        # Inflowing blood saturates as it crosses each slab: signal falls towards each slab's exit.
        per_slab = max(1, n_slices // protocol.slabs)
        depth = (np.arange(n_slices) % per_slab) / per_slab
        volume = volume * (1.0 - 0.2 * depth).astype(np.float32)[None, None, :]
    return [volume.astype(np.float32)], acquisition.affine_lps, thickness


def render_series(
    head: HeadModel, study: Study, protocol: Protocol, config: BrainCohortConfig, rng: np.random.Generator,
    coarse_head: HeadModel | None = None,
) -> tuple[np.ndarray, np.ndarray, float]:
    """The series volume (i, j, k), its LPS affine and its slice thickness (``render_volumes`` of a
    one-volume series: an image, or an ADC map computed from its b=0 and weighted acquisitions)."""
    volumes, affine_lps, thickness = render_volumes(head, study, protocol, config, rng, coarse_head)
    if len(volumes) != 1:
        raise ValueError(f"{protocol.label}: a {len(volumes)}-volume series; use render_volumes")
    return volumes[0], affine_lps, thickness


def _object_image(head: HeadModel, study: Study, seq: mr.Sequence, thickness: float) -> np.ndarray:
    """The noise-free object: tissue signals, iron relaxation, and intravoxel dephasing (gradient echo)."""
    signals = {t: mr.tissue_signal(study.tissues[t], seq) for t in head.tissues}
    image = head.signal_image(signals)
    # Iron shortens T2* fully and T2 by a fifth as much (spin echoes refocus most of it).
    iron_r2 = head.iron_r2star_per_t * (study.field_t * (1.0 if seq.gradient_echo else 0.2))
    image *= np.exp(-1e-3 * seq.te * iron_r2)
    if seq.gradient_echo:
        hz_per_mm = head.field_gradient_ppm_per_mm * (mr.GYROMAGNETIC_MHZ_PER_T * study.field_t)
        image *= mr.static_dephasing(hz_per_mm, thickness, seq.te).astype(np.float32)
    return image


def _adc_map(b0: np.ndarray, high: np.ndarray, b_value: float, threshold: float) -> np.ndarray:
    """ADC in 10^-6 mm^2/s from noisy b=0 and b images, zero where b=0 is background (as scanners store it)."""
    ratio = np.maximum(b0, 1e-6) / np.maximum(high, 1e-6)
    adc = np.log(ratio) / b_value * 1e6
    return np.where(b0 > threshold, np.clip(adc, 0.0, 4000.0), 0.0).astype(np.float32)


# --- patients, studies, headers -----------------------------------------------------------------

# The finding of a patient with one, by kind (weights as in a general neuroradiology case mix: our
# assumption). Follow-up visits show it evolved (``Lesion.evolved``).
FINDING_WEIGHTS = {"tumour": 3, "infarct": 3, "other": 2, "haemorrhage": 1}


def white_matter_change_probability(age_years: float) -> float:
    """Share of people of an age with visible white-matter hyperintensities (Fazekas >= 1): rare before
    40, most after 70 (de Leeuw et al. 2001, J Neurol Neurosurg Psychiatry 70:9; Rotterdam Scan Study)."""
    return float(np.clip((age_years - 40.0) / 40.0, 0.0, 0.9))


def patient_findings(rng: np.random.Generator, head: HeadModel, age_years: float, finding_rate: float) -> list[Lesion]:
    """A patient's lesions: with probability ``finding_rate`` one of ``FINDING_WEIGHTS``, and
    age-related small-vessel white-matter change with ``white_matter_change_probability``."""
    findings = []
    if finding_rate > 0 and rng.random() < finding_rate:
        kinds = list(FINDING_WEIGHTS)
        weights = np.array([FINDING_WEIGHTS[k] for k in kinds], float)
        findings.append(class_lesion(rng, head, str(rng.choice(kinds, p=weights / weights.sum()))))
    if finding_rate > 0 and rng.random() < white_matter_change_probability(age_years):
        findings.append(small_vessel_disease(rng, head))
    return findings


def _patients(rng: np.random.Generator, n: int) -> list[dict]:
    """Unique fake identities: name, MRN, birth date, sex (the header keywords)."""
    sexes = rng.choice(["F", "M"], size=n)
    n_given = len(GIVEN_NAMES["F"])
    pairs = rng.choice(len(SURNAMES) * n_given, size=n, replace=False)
    mrns = rng.choice(9_000_000, size=n, replace=False) + 1_000_000
    people = []
    for i in range(n):
        name = f"{SURNAMES[pairs[i] // n_given]}^{GIVEN_NAMES[sexes[i]][pairs[i] % n_given]}"
        if rng.random() < 0.3:
            name += f"^{chr(65 + int(rng.integers(26)))}"  # middle initial
        born = dt.date(1930, 1, 1) + dt.timedelta(days=int(rng.integers(0, 365 * 75)))
        people.append({"PatientName": name, "PatientID": f"MRN{mrns[i]:07d}",
                       "PatientBirthDate": born.strftime("%Y%m%d"), "PatientSex": str(sexes[i])})
    return people


def _study_dates(rng: np.random.Generator, n: int, birth_date: str) -> list[dt.datetime]:
    """The first visit in 2012-2020 (adult by then), follow-ups 2 months to 4 years apart."""
    adult = dt.datetime.strptime(birth_date, "%Y%m%d").date() + dt.timedelta(days=365 * 18)
    dates = [max(dt.date(2012, 1, 1) + dt.timedelta(days=int(rng.integers(0, 365 * 9))), adult)]
    for _ in range(n - 1):
        dates.append(dates[-1] + dt.timedelta(days=int(rng.integers(60, 1500))))
    return [dt.datetime.combine(d, dt.time(int(rng.integers(7, 20)), int(rng.integers(60)), int(rng.integers(60))))
            for d in dates]


def head_pose(rng: np.random.Generator, brain_center: np.ndarray) -> np.ndarray:
    """Scanner LPS mm -> subject (template-like RAS) mm: head tilted a few degrees, near isocentre."""
    rotation = small_rotation(rng, 8.0) @ LPS_TO_RAS[:3, :3]
    pose = np.eye(4)
    pose[:3, :3] = rotation
    pose[:3, 3] = brain_center - rotation @ rng.normal(0.0, 6.0, 3)
    return pose


def _series_number(vendor: str, index: int) -> int:
    return {SIEMENS: index + 2, GE: index + 2, PHILIPS: (index + 2) * 100 + 1}[vendor]


def _reported_flip(rng: np.random.Generator, vendor: str, protocol: Protocol) -> float:
    """Siemens turbo spin echoes report the refocusing flip angle, everyone else the excitation."""
    if vendor == SIEMENS and protocol.sequence.family in ("SE", "IR") and not protocol.epi:
        return float(rng.choice([120.0, 150.0, 160.0, 180.0]))
    return protocol.sequence.flip_deg


def _wrong_description(rng: np.random.Generator, vendor: str, label: str, plane: str) -> str:
    """A description that does not name the class: generic, empty, or that of another class."""
    if rng.random() < 0.5:
        return _pick(rng, GENERIC_DESCRIPTIONS)
    return _description(rng, vendor, plane, _pick(rng, [v for v in DESCRIPTIONS if v[0] != label]))


def _protocol_name(rng: np.random.Generator, vendor: str, description: str, exam: str) -> str:
    """GE writes the exam protocol; Siemens and Philips the sequence protocol the description came from."""
    if vendor == GE:
        return exam
    stripped = description.removesuffix("_TRACEW").removesuffix("_ADC")
    return ("WIP " + stripped) if vendor == PHILIPS and rng.random() < 0.1 else stripped


def _study(rng: np.random.Generator, head: HeadModel, subject: Deformation, subject_tissues: dict[str, mr.Tissue],
           field_t: float, when: dt.datetime, uids: dict[str, str], accession: str) -> Study:
    """One visit: a scanner, a head position, the study-level header."""
    vendor = _pick(rng, list(SCANNERS))
    model = _pick(rng, SCANNERS[vendor][field_t])
    tissues = {name: mr.perturbed(subject_tissues[name], rng, 0.02) for name in head.tissues}
    deformation = subject.after(head_pose(rng, head.brain_center))
    header = {
        "AccessionNumber": accession, "StudyInstanceUID": uids["study"], "FrameOfReferenceUID": uids["frame"],
        "StudyDate": when.strftime("%Y%m%d"), "StudyTime": when.strftime("%H%M%S"),
        "SeriesDate": when.strftime("%Y%m%d"),
        "ReferringPhysicianName": f"{_pick(rng, SURNAMES)}^{_pick(rng, GIVEN_NAMES['F'] + GIVEN_NAMES['M'])}",
        "Manufacturer": vendor, "ManufacturerModelName": model, "MagneticFieldStrength": field_t,
        "SoftwareVersions": _pick(rng, SOFTWARE[vendor]), "InstitutionName": _pick(rng, INSTITUTIONS),
        "StudyDescription": _pick(rng, STUDY_DESCRIPTIONS), "BodyPartExamined": _pick(rng, ["HEAD", "BRAIN", "HEAD"]),
        "ProtocolName": _pick(rng, EXAM_PROTOCOLS),  # GE's; replaced for the other vendors per series
    }
    return Study(vendor, model, field_t, tissues, deformation, header)


def b_value_tags(rng: np.random.Generator, vendor: str, software: str, b_value: float) -> dict:
    """Where a vendor's classic (single-frame) MR export keeps the b-value; dcm2niix reads the same places.

    Siemens: private B_value (0019,xx0C) of "SIEMENS MR HEADER", and the standard DiffusionBValue
    (0018,9087) only from the XA (enhanced-era) software on. GE: the first value of Slop_int_6..9
    (0043,xx39) of "GEMS_PARM_01", on some releases plus 1e9 (dcm2niix takes it modulo 1e9, or
    subtracts 1e9 when it is that large). Philips: the private b-factor (2001,xx03) of
    "Philips Imaging DD 001", and the standard tag on about half of the exports (R5 releases).
    """
    if vendor == SIEMENS:
        tags = {(0x0019, "SIEMENS MR HEADER", 0x0C): ("IS", int(b_value))}
        return {**tags, "DiffusionBValue": b_value} if "XA" in software else tags
    if vendor == GE:
        offset = 1_000_000_000 if rng.random() < 0.3 else 0
        return {(0x0043, "GEMS_PARM_01", 0x39): ("IS", [int(b_value) + offset, 8, 0, 0])}
    tags = {(0x2001, "Philips Imaging DD 001", 0x03): ("FL", float(b_value))}
    return {**tags, "DiffusionBValue": b_value} if rng.random() < 0.5 else tags


# Share of studies holding both diffusion classes whose b=0 and trace volumes are one series (GE and
# Philips write them together; Siemens mostly, with the b=0 also in its own series on some protocols).
COMBINED_DIFFUSION_EXPORT = {SIEMENS: 0.7, GE: 0.9, PHILIPS: 0.9}
DIFFUSION_IMAGE_TYPES = {  # (b=0, trace) volumes of one series
    SIEMENS: (["ORIGINAL", "PRIMARY", "DIFFUSION", "NONE", "ND"], ["DERIVED", "PRIMARY", "DIFFUSION", "TRACEW", "ND"]),
    GE: (["ORIGINAL", "PRIMARY", "OTHER"], ["ORIGINAL", "PRIMARY", "OTHER"]),
    PHILIPS: (["ORIGINAL", "PRIMARY", "M_SE", "M", "SE"], ["DERIVED", "PRIMARY", "M_SE", "M", "SE"]),
}


def diffusion_volume_header(rng: np.random.Generator, study: Study, header: dict, b_value: float, trace: bool) -> dict:
    """The header of one volume of a diffusion series holding b=0 and trace images: the series' header
    with this volume's b-value where the vendor keeps it and its ImageType. The class of a volume is
    DWI for the b=0 (the unweighted diffusion acquisition) and TraceW for the trace-weighted one."""
    volume = {key: value for key, value in header.items()
              if key != "DiffusionBValue" and not (isinstance(key, tuple) and key[0] in (0x0019, 0x0043, 0x2001))}
    volume.update(b_value_tags(rng, study.vendor, str(study.header["SoftwareVersions"]), b_value))
    volume["ImageType"] = DIFFUSION_IMAGE_TYPES[study.vendor][int(trace)]
    return volume


def _series_header(rng: np.random.Generator, study: Study, protocol: Protocol, index: int, when: dt.datetime,
                   thickness: float, config: BrainCohortConfig) -> dict:
    """The series-level header: numbering, timing, the acquisition parameters, descriptions.

    The b-value goes where the vendor keeps it (``b_value_tags``). Derived maps (ADC; Siemens'
    TraceW) inherit the acquisition's timings, except GE ADC series, half of which carry none.
    """
    seq = protocol.sequence
    description = str(protocol.header["SeriesDescription"])
    protocol_name = _protocol_name(rng, study.vendor, description, str(study.header["ProtocolName"]))
    if rng.random() < config.wrong_description_rate:
        description = _wrong_description(rng, study.vendor, protocol.label, protocol.plane)
    if rng.random() < config.wrong_description_rate / 2:
        protocol_name = _pick(rng, GENERIC_DESCRIPTIONS)
    header = {key: value for key, value in protocol.header.items() if key != "DiffusionBValue"}
    if "DiffusionBValue" in protocol.header:
        header.update(b_value_tags(rng, study.vendor, str(study.header["SoftwareVersions"]),
                                   float(protocol.header["DiffusionBValue"])))
    timings = {"RepetitionTime": seq.tr, "EchoTime": seq.te,
               "InversionTime": seq.ti if seq.family in ("IR", "IR-GRE") else None,
               "FlipAngle": _reported_flip(rng, study.vendor, protocol)}
    if protocol.label == "ADC" and study.vendor == GE and rng.random() < 0.5:
        timings = {}
    return {
        "SeriesNumber": _series_number(study.vendor, index),
        "SeriesTime": (when + dt.timedelta(minutes=4 * index + int(rng.integers(0, 3)))).strftime("%H%M%S"),
        **timings, "SliceThickness": thickness,
        "PixelBandwidth": _uniform(rng, 1000, 2000, 0) if protocol.epi else _uniform(rng, 130, 300, 0),
        "NumberOfAverages": protocol.averages,
        **header,
        "SeriesDescription": description, "ProtocolName": protocol_name,
    }


def _generate(config: BrainCohortConfig, seed: int, dicom_dir: Path) -> list[dict]:
    head = mni_head()
    people = _patients(np.random.default_rng(np.random.SeedSequence([seed, 0])), config.n_patients)
    patient_seeds = np.random.SeedSequence([seed, 1]).spawn(config.n_patients)
    rows: list[dict] = []
    for p, (person, patient_seed) in enumerate(zip(people, patient_seeds)):
        rng = np.random.default_rng(patient_seed)
        export = "X" + hashlib.sha256(f"{seed}:{p}".encode()).hexdigest()[:10].upper()  # anonymous folder
        n_studies = int(rng.integers(config.studies_per_patient[0], config.studies_per_patient[1] + 1))
        dates = _study_dates(rng, n_studies, person["PatientBirthDate"])
        age = (dates[0].date() - dt.datetime.strptime(person["PatientBirthDate"], "%Y%m%d").date()).days / 365.25
        subject = random_subject_deformation(rng, head, age_years=age)
        findings = patient_findings(rng, head, age, config.finding_rate)
        for s, when in enumerate(dates):
            # A finding as it looks at this visit (acute infarcts and haemorrhages evolve), on both grids.
            lesioned = with_lesions(head, [f if s == 0 else f.evolved() for f in findings]) if findings else head
            coarse = lesioned.block_averaged(2) if findings else None
            if s == 0 or rng.random() < 0.3:  # follow-ups are sometimes on another field strength
                field_t = float(_pick(rng, list(config.field_strengths_t)))
                subject_tissues = {}
            for name in lesioned.tissues:  # an evolved lesion may bring a new tissue
                if name not in subject_tissues:
                    subject_tissues[name] = mr.perturbed(mr.tissue(name, field_t), rng, 0.04)
            uids = {"study": deterministic_uid(seed, "study", p, s), "frame": deterministic_uid(seed, "frame", p, s)}
            accession = f"AC{int(rng.integers(10**7, 10**8))}{p:03d}{s}"
            study = _study(rng, lesioned, subject, subject_tissues, field_t, when, uids, accession)
            n_series = int(rng.integers(config.series_per_study[0], config.series_per_study[1] + 1))
            chosen = [CLASSES[c] for c in rng.choice(len(CLASSES), size=n_series, replace=False)]
            # Scanners export a diffusion acquisition's b=0 and trace volumes together, mostly.
            together = {"DWI", "TraceW"} <= set(chosen) and rng.random() < COMBINED_DIFFUSION_EXPORT[study.vendor]
            for index, label in enumerate(chosen):
                if together and label == "DWI":
                    continue  # its volume is the b=0 of the TraceW series
                protocol = PROTOCOL_SAMPLERS[label](rng, study.vendor, field_t)
                if together and label == "TraceW":
                    protocol = dataclasses.replace(
                        protocol, b0_sequence=dataclasses.replace(protocol.sequence, b_value=0.0))
                volumes, affine_lps, thickness = render_volumes(lesioned, study, protocol, config, rng,
                                                                coarse_head=coarse)
                header = {
                    **person, "PatientAge": f"{(when.year - int(person['PatientBirthDate'][:4])):03d}Y",
                    **study.header, **_series_header(rng, study, protocol, index, when, thickness, config),
                    "SeriesInstanceUID": deterministic_uid(seed, "series", p, s, index),
                }
                out = dicom_dir / export / f"ST{s + 1:02d}" / f"SE{header['SeriesNumber']:04d}"
                # ADC maps keep their physical unit (10^-6 mm^2/s); images get the vendor's scaling.
                if protocol.label == "ADC":
                    scale = 1.0
                else:
                    scale = vendor_intensity_scale(rng, study.vendor, float(max(v.max() for v in volumes)))
                parts = [(volumes[0], protocol.label, header, None)]
                if len(volumes) == 2:  # b=0 (class DWI) then the trace (TraceW), as one series
                    high = protocol.sequence.b_value
                    parts = [(volumes[0], "DWI", diffusion_volume_header(rng, study, header, 0.0, trace=False), 0.0),
                             (volumes[1], "TraceW", diffusion_volume_header(rng, study, header, high, trace=True), high)]
                written = 0
                for volume, volume_label, volume_header, volume_b in parts:
                    files = write_series(volume, affine_lps, out, volume_header, vendor_scale=scale,
                                         first_instance=written)
                    written += len(files)
                    rows.append({
                        "series_instance_uid": header["SeriesInstanceUID"], "study_instance_uid": uids["study"],
                        "patient_id": person["PatientID"], "patient_name": person["PatientName"],
                        "patient_birth_date": person["PatientBirthDate"], "accession_number": accession,
                        "label": volume_label, "b_value": volume_b,
                        "acquisition_plane": protocol.plane, "shape": ",".join(str(n) for n in volume.shape),
                        "affine_ras": ",".join(f"{v:.6f}" for v in (LPS_TO_RAS @ affine_lps).ravel()),
                        "field_strength_t": field_t, "n_files": len(files),
                    })
        log.info("patients done %d/%d (%d series, %d files so far)", p + 1, config.n_patients, len(rows),
                 sum(row["n_files"] for row in rows))
    return rows


def generate_brain_cohort(
    config: BrainCohortConfig, seed: int, dicom_dir: Path, labels_path: Path, truth_path: Path
) -> pd.DataFrame:
    """Write the cohort: DICOM under ``dicom_dir/<export>/<study>/<series>/``, labels.tsv and truth.tsv.

    Deterministic for ``seed``: each patient draws from its own child of the seed, so the same seed
    gives byte-identical files. Returns the truth table.
    """
    # One core: BLAS threads only contend for it (small matrix products get ~50x slower on a busy machine).
    with threadpool_limits(limits=1, user_api="blas"):
        rows = _generate(config, seed, Path(dicom_dir))
    truth = pd.DataFrame(rows, columns=TRUTH_COLUMNS)
    for path in (truth_path, labels_path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    truth.to_csv(truth_path, sep="\t", index=False)
    labels = truth.rename(columns={"series_instance_uid": "SeriesInstanceUID"})[LABEL_COLUMNS]
    labels.to_csv(labels_path, sep="\t", index=False)
    return truth
