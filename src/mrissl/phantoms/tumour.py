"""The paediatric low-grade glioma cohorts of paper 001, in the BraTS-PED 2023 layout.

Each patient has one FLAIR volume with one tumour, its segmentation, a tumour location class
(supratentorial, infratentorial, transtentorial), a genetic marker (BRAF fusion, BRAF V600E, other)
and, for the internal cohort, a radiology report (``mrissl.phantoms.tumour_reports``).

How a case is drawn (the causal order of the clinical picture: the marker shapes the tumour):

1. markers are allotted in the configured proportions (paper Table 6), exactly up to rounding;
2. the location class given the marker: BRAF fusion is mostly infratentorial (cerebellar pilocytic
   astrocytoma), V600E mostly supratentorial (hemispheric ganglioglioma / PXA), other in between
   (Trasolini 2022, AJNR 43:1196); then a site of that class (``SITES``), again weighted by marker;
3. imaging features given the marker, each overlapping between markers: size, a cystic part
   (fusion more often), a well-circumscribed or infiltrative margin (V600E more often infiltrative),
   perilesional oedema, and the solid part's T2 (pilocytic tumours are very T2/FLAIR bright);
4. the tumour is placed in the MNI152 template (``mrissl.phantoms.anatomy``) and kept only if it
   lies in its class's compartment (``posterior_fossa``); the FLAIR signal comes from the
   inversion-recovery equation of ``mr_physics`` with the patient's tissue values.

The image is what BraTS-PED distributes: skull-stripped, on the atlas box of 240 x 240 x 155 mm in
LPS voxel order (RAS affine with negative x and y), here at the configured matrix; the subject's
residual anatomy after atlas registration is an elastic deformation of the template. Labels follow
BraTS-PEDs: 2 non-enhancing (solid) tumour, 3 cystic component, 4 peritumoral oedema (1, enhancing
tumour, needs a post-contrast T1 and is not drawn).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
from scipy import ndimage
from threadpoolctl import threadpool_limits

from mrissl.config import config_from_section
from mrissl.geometry import LPS_TO_RAS
from mrissl.phantoms import mr_physics as mr
from mrissl.phantoms.anatomy import HeadModel, coarse_mni_head, mni_brain_mask, mni_head, random_subject_deformation
from mrissl.phantoms.scanner import (
    Acquisition,
    Deformation,
    acquire,
    acquisition_region,
    small_rotation,
    vendor_intensity_scale,
    voxel_coordinates,
)
from mrissl.phantoms.tumour_reports import write_report
from mrissl.vocabulary import LOCATIONS, MARKERS

log = logging.getLogger(__name__)

SEG_LABELS = {"solid": 2, "cyst": 3, "oedema": 4}  # BraTS-PEDs: 1 ET, 2 NET, 3 CC, 4 ED
# The BraTS atlas box (mm) and where its centre sits in MNI space (brain from medulla to vertex).
BOX_MM = np.array([240.0, 240.0, 155.0])
BOX_CENTRE_MNI = np.array([0.0, -17.0, 4.0])
COARSE_HEAD_FROM_MM = 3.5  # output voxels at least this large sample the 4 mm template
CLINICAL_COLUMNS = [
    "subject", "timepoint", "sex", "age_years", "scan_date", "manufacturer", "field_strength_t",
    "location", "site", "marker", "histology", "marker_detail", "max_diameter_cm", "cystic",
    "well_circumscribed", "oedema",
]
REPORT_COLUMNS = ["subject", "report"]
# A tumour is placed in its compartment in the template with at most this share of its core on the
# wrong side (transtentorial: at least this share on each side), stricter than ``location_of``'s default.
PLACEMENT_MARGIN = {"supratentorial": 0.02, "infratentorial": 0.02, "transtentorial": 0.2}
PLACEMENT_TRIES = 400


def posterior_fossa(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """True below the tentorium cerebelli, for MNI (RAS) mm coordinates (broadcast).

    A tent fitted to the MNI152 template: its apex near the straight sinus at z = -2 mm, falling
    laterally (0.55 mm per mm) and away from y = -60 (0.12 mm per mm), so that the cerebellar top is
    at about z = -10 paramedian and z = -20 at |x| = 34 mm. In front, the petrous ridges and clivus
    close the fossa at y = -12 - 0.8 |x|: the pons is inside, the temporal lobes and the
    hypothalamus outside.
    """
    x, y, z = np.broadcast_arrays(np.asarray(x, float), np.asarray(y, float), np.asarray(z, float))
    tent = -2.0 - 0.55 * np.abs(x) - 0.12 * np.abs(y + 60.0)
    return (z < tent) & (y < -12.0 - 0.8 * np.abs(x))


def location_of(share_in_posterior_fossa: float, margin: float = 0.1) -> str:
    """The location class of a tumour from the share of its core below the tentorium.

    Within ``margin`` of none or all of it below, the tumour is supra- or infratentorial; the default
    tolerates a rendered mask's partial volume and the subject's residual deformation.
    """
    if share_in_posterior_fossa <= margin:
        return "supratentorial"
    if share_in_posterior_fossa >= 1.0 - margin:
        return "infratentorial"
    return "transtentorial"


@dataclasses.dataclass(frozen=True)
class Site:
    """Where a tumour grows: its report name, class, MNI centre (right side for lateral sites)."""

    name: str
    location: str
    centre_mni: tuple[float, float, float]
    lateral: bool
    max_diameter_cm: float
    elongation: tuple[float, float, float] = (1.0, 1.0, 1.0)  # relative extent along x, y, z


SITES = {
    s.name: s for s in [
        Site("frontal lobe", "supratentorial", (28, 32, 28), True, 6.0),
        Site("parietal lobe", "supratentorial", (32, -48, 38), True, 6.0),
        Site("temporal lobe", "supratentorial", (44, -18, -12), True, 4.5, (0.8, 1.0, 0.8)),
        Site("occipital lobe", "supratentorial", (22, -80, 12), True, 4.5),
        Site("thalamus", "supratentorial", (12, -18, 8), True, 4.0),
        Site("basal ganglia", "supratentorial", (22, 4, 4), True, 4.0),
        Site("suprasellar region", "supratentorial", (0, -2, -8), False, 4.0, (1.0, 0.9, 0.8)),
        Site("cerebellar hemisphere", "infratentorial", (26, -64, -38), True, 5.5),
        Site("cerebellar vermis", "infratentorial", (0, -66, -32), False, 5.0),
        Site("fourth ventricle", "infratentorial", (0, -50, -34), False, 4.5),
        Site("pons", "infratentorial", (0, -26, -34), False, 3.5, (1.0, 0.9, 1.0)),
        Site("medulla", "infratentorial", (0, -40, -54), False, 2.5, (0.8, 0.8, 1.0)),
        Site("thalamus and midbrain", "transtentorial", (8, -24, -6), True, 5.0, (0.7, 0.8, 1.0)),
        Site("tectum and pineal region", "transtentorial", (0, -34, -4), False, 4.0, (0.8, 0.9, 1.0)),
        Site("superior vermis through the tentorial incisura", "transtentorial", (0, -52, -6), False, 5.0,
             (0.9, 0.9, 1.0)),
    ]
}
# P(location | marker): supratentorial, infratentorial, transtentorial.
LOCATION_GIVEN_MARKER = {
    "braf_fusion": (0.30, 0.62, 0.08),
    "braf_v600e": (0.72, 0.20, 0.08),
    "other": (0.58, 0.32, 0.10),
}
# Relative weight of each site given the marker (within the drawn location class).
SITE_WEIGHTS = {
    "braf_fusion": {"suprasellar region": 4, "thalamus": 2, "frontal lobe": 1, "temporal lobe": 1, "parietal lobe": 0.5,
                    "occipital lobe": 0.5, "basal ganglia": 0.5, "cerebellar hemisphere": 4, "cerebellar vermis": 3,
                    "fourth ventricle": 2, "pons": 0.5, "medulla": 0.5, "thalamus and midbrain": 1,
                    "tectum and pineal region": 1, "superior vermis through the tentorial incisura": 2},
    "braf_v600e": {"suprasellar region": 1, "thalamus": 2, "frontal lobe": 2, "temporal lobe": 4, "parietal lobe": 2,
                   "occipital lobe": 1, "basal ganglia": 1, "cerebellar hemisphere": 2, "cerebellar vermis": 1,
                   "fourth ventricle": 0.5, "pons": 1, "medulla": 1, "thalamus and midbrain": 2,
                   "tectum and pineal region": 1, "superior vermis through the tentorial incisura": 1},
    "other": {"suprasellar region": 3, "thalamus": 2, "frontal lobe": 1.5, "temporal lobe": 2, "parietal lobe": 1,
              "occipital lobe": 0.5, "basal ganglia": 1.5, "cerebellar hemisphere": 1.5, "cerebellar vermis": 1,
              "fourth ventricle": 0.5, "pons": 1, "medulla": 1, "thalamus and midbrain": 1.5,
              "tectum and pineal region": 2, "superior vermis through the tentorial incisura": 0.5},
}
P_CYSTIC = {"braf_fusion": 0.65, "braf_v600e": 0.40, "other": 0.30}
P_CIRCUMSCRIBED = {"braf_fusion": 0.80, "braf_v600e": 0.35, "other": 0.55}
MEDIAN_DIAMETER_CM = {"braf_fusion": 3.4, "braf_v600e": 3.3, "other": 2.9}
INFRATENTORIAL_FUSION_SIZE = 1.25  # cerebellar pilocytic astrocytomas present large
# Solid-part T2 relative to the "tumour" tissue (pLGG solid parts are nearly as T2 bright as fluid): mean, sd.
SOLID_T2_FACTOR = {"braf_fusion": (1.6, 0.2), "braf_v600e": (1.3, 0.2), "other": (1.45, 0.2)}
MEDIAN_AGE = {"braf_fusion": 7.0, "braf_v600e": 10.0, "other": 8.0}
OEDEMA_GRADES = ("none", "mild", "moderate")
OEDEMA_GIVEN_MARGIN = {True: (0.60, 0.35, 0.05), False: (0.20, 0.50, 0.30)}
OEDEMA_MM = {"none": (0.0, 0.0), "mild": (3.0, 6.0), "moderate": (8.0, 14.0)}
HISTOLOGY = {
    "braf_fusion": {"pilocytic astrocytoma": 0.85, "pilomyxoid astrocytoma": 0.05, "low-grade glioma": 0.10},
    "braf_v600e": {"ganglioglioma": 0.35, "pleomorphic xanthoastrocytoma": 0.15, "pilocytic astrocytoma": 0.20,
                   "low-grade glioma": 0.20, "diffuse astrocytoma": 0.10},
    "other": {"pilocytic astrocytoma": 0.30, "low-grade glioma": 0.35, "diffuse astrocytoma": 0.15,
              "dysembryoplastic neuroepithelial tumour": 0.10, "angiocentric glioma": 0.10},
}
# What "other" is, weighted; NF1 mostly in optic pathway gliomas.
OTHER_DETAILS = {"NF1": 1.0, "FGFR1": 1.0, "MYB": 0.6, "wild-type": 1.4}


@dataclasses.dataclass(frozen=True)
class TumourCohortConfig:
    """``phantom.tumour_internal`` / ``phantom.tumour_external`` of the config."""

    n_patients: int
    first_subject: int                      # BraTS-PED subject number of the first patient
    matrix: tuple[int, int, int]            # voxels over the 240 x 240 x 155 mm atlas box
    years: tuple[int, int]                  # scan years, inclusive
    manufacturers: tuple[str, ...]
    field_strengths_t: tuple[float, ...]
    slice_thickness_mm: tuple[float, float]  # of the original acquisition (blur along z)
    noise: tuple[float, float]              # Rician sigma relative to the brightest brain tissue
    bias_field: float
    marker_weights: dict[str, float]        # relative frequency of each marker (paper Table 6)
    reports: bool                           # write a radiology report per patient

    @classmethod
    def from_config(cls, section: dict) -> TumourCohortConfig:
        config = config_from_section(cls, section, "phantom.tumour_*")
        if set(config.marker_weights) != set(MARKERS) or sum(config.marker_weights.values()) <= 0:
            raise ValueError(f"marker_weights must give each of {list(MARKERS)} a weight >= 0, "
                             f"not all zero; got {config.marker_weights}")
        if not (1 <= config.first_subject and config.first_subject + config.n_patients - 1 <= 99999):
            raise ValueError("BraTS-PED subject numbers have 5 digits: first_subject + n_patients - 1 <= 99999")
        return config


@dataclasses.dataclass(frozen=True)
class Tumour:
    """Everything drawn about one patient's tumour (the truth behind image, mask and report)."""

    marker: str
    marker_detail: str        # other: NF1 / FGFR1 / MYB / wild-type; else the marker's own name
    histology: str
    location: str
    site: str
    side: str                 # left | right | midline
    diameter_cm: float        # intended largest diameter
    cystic: bool
    well_circumscribed: bool
    oedema: str
    solid_t2_factor: float
    cyst_t1_factor: float     # cyst fluid T1 relative to CSF (protein shortens it)

    @property
    def site_name(self) -> str:
        return self.site if self.side == "midline" else f"{self.side} {self.site}"


@dataclasses.dataclass(frozen=True)
class Case:
    """A generated patient: identity in the dataset, the tumour, the scan and the measured lesion."""

    subject: str
    sex: str
    age_years: float
    scan_date: dt.date
    manufacturer: str
    field_strength_t: float
    tumour: Tumour
    extent_cm: tuple[float, float, float]     # AP, transverse, craniocaudal of the core
    solid_to_white_matter: float              # FLAIR signal ratios, as a reader would judge them
    cyst_to_white_matter: float


def allot_markers(n: int, weights: dict[str, float]) -> list[str]:
    """``n`` markers in the proportions of ``weights`` (largest remainder), in ``MARKERS`` order."""
    total = sum(weights[m] for m in MARKERS)
    exact = np.array([n * weights[m] / total for m in MARKERS])
    counts = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - counts), kind="stable")[: n - counts.sum()]:
        counts[i] += 1
    return [m for m, c in zip(MARKERS, counts) for _ in range(c)]


def _choice(rng: np.random.Generator, weights: dict[str, float]) -> str:
    names = list(weights)
    p = np.array([weights[k] for k in names], float)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def draw_tumour(rng: np.random.Generator, marker: str) -> Tumour:
    """The location, site and imaging features of a tumour with ``marker`` (see the module doc)."""
    location = LOCATIONS[int(rng.choice(3, p=LOCATION_GIVEN_MARKER[marker]))]
    site = SITES[_choice(rng, {k: w for k, w in SITE_WEIGHTS[marker].items() if SITES[k].location == location})]
    side = str(rng.choice(["left", "right"])) if site.lateral else "midline"
    p_cystic = P_CYSTIC[marker] * {"pons": 0.4, "medulla": 0.4, "cerebellar hemisphere": 1.2}.get(site.name, 1.0)
    cystic = bool(rng.random() < min(p_cystic, 0.95))
    circumscribed = bool(rng.random() < P_CIRCUMSCRIBED[marker])
    median = MEDIAN_DIAMETER_CM[marker] * (
        INFRATENTORIAL_FUSION_SIZE if marker == "braf_fusion" and location == "infratentorial" else 1.0)
    diameter = float(np.clip(median * np.exp(rng.normal(0.0, 0.3)), 1.2, site.max_diameter_cm))
    oedema = OEDEMA_GRADES[int(rng.choice(3, p=OEDEMA_GIVEN_MARGIN[circumscribed]))]
    mean, sd = SOLID_T2_FACTOR[marker]
    if marker == "other":
        details = dict(OTHER_DETAILS, NF1=OTHER_DETAILS["NF1"] * (4.0 if site.name == "suprasellar region" else 1.0))
        detail = _choice(rng, details)
    else:
        detail = {"braf_fusion": "KIAA1549-BRAF", "braf_v600e": "BRAF V600E"}[marker]
    return Tumour(
        marker=marker, marker_detail=detail, histology=_choice(rng, HISTOLOGY[marker]), location=location,
        site=site.name, side=side, diameter_cm=round(diameter, 2), cystic=cystic, well_circumscribed=circumscribed,
        oedema=oedema, solid_t2_factor=float(np.clip(rng.normal(mean, sd), 1.1, 2.2)),
        cyst_t1_factor=float(rng.uniform(0.4, 0.95)),
    )


# --- placing the tumour in the template --------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class TumourMaps:
    """Tissue fractions of the tumour on a head grid (full grid, float32) and its core's extent (cm)."""

    solid: np.ndarray
    cyst: np.ndarray
    oedema: np.ndarray
    extent_cm: tuple[float, float, float]   # AP (y), transverse (x), craniocaudal (z)


def _grid_mm(head: HeadModel, box: tuple[slice, slice, slice]) -> list[np.ndarray]:
    """Broadcastable x, y, z MNI mm of the voxel centres of ``box`` of the head grid."""
    axes = []
    for d, s in enumerate(box):
        values = head.affine[d, d] * np.arange(s.start, s.stop, dtype=np.float32) + head.affine[d, 3]
        axes.append(values.reshape([-1 if k == d else 1 for k in range(3)]))
    return axes


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], sigma_vox: float) -> np.ndarray:
    field = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma_vox, mode="reflect")
    return field / max(float(field.std()), 1e-6)


def _try_place(
    rng: np.random.Generator, head: HeadModel, brain: np.ndarray, parenchyma: np.ndarray, tumour: Tumour,
    centre: np.ndarray, diameter_mm: float,
) -> TumourMaps | None:
    """The tumour's fraction maps around ``centre``, or None where it leaves the brain or its compartment."""
    site = SITES[tumour.site]
    spacing = float(head.affine[0, 0])
    radii = 0.5 * diameter_mm * np.array(site.elongation) / max(site.elongation) * rng.uniform(0.75, 1.0, 3)
    radii[int(np.argmax(site.elongation))] = 0.5 * diameter_mm
    oedema_mm = float(rng.uniform(*OEDEMA_MM[tumour.oedema]))
    # Well-circumscribed: a smooth surface and a one-voxel edge; infiltrative: lobulated, a wide edge.
    irregular_mm, edge_mm = (1.0, spacing) if tumour.well_circumscribed else (4.0, 5.0)
    reach = radii.max() + oedema_mm + 3.0 * irregular_mm + edge_mm + 2 * spacing
    lo = np.floor((centre - reach - head.affine[:3, 3]) / spacing).astype(int)
    hi = np.ceil((centre + reach - head.affine[:3, 3]) / spacing).astype(int) + 1
    shape = np.array(brain.shape)
    if (lo < 0).any() or (hi > shape).any():
        return None
    box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))
    x, y, z = _grid_mm(head, box)
    rotation = small_rotation(rng, 40.0 if site.elongation == (1.0, 1.0, 1.0) else 15.0).astype(np.float32)
    offset = [x - centre[0], y - centre[1], z - centre[2]]
    local = [sum(rotation[m, k] * offset[m] for m in range(3)) for k in range(3)]  # coordinates on the axes
    radius = float(np.mean(radii))

    def inside_mm(scale: float, around: np.ndarray) -> np.ndarray:
        """Approximate signed distance (mm, > 0 inside) to the ellipsoid of ``scale`` x radii about ``around``."""
        d = np.sqrt(sum(((local[k] - around[k]) / (radii[k] * scale)) ** 2 for k in range(3)))
        return (1.0 - d) * radius * scale

    box_shape = tuple(s.stop - s.start for s in box)
    depth = inside_mm(1.0, np.zeros(3)) + irregular_mm * _smooth_noise(rng, box_shape, 6.0 / spacing)
    lesion = np.clip(depth / edge_mm + 0.5, 0.0, 1.0)
    if tumour.cystic:
        # A cyst displaced towards one side leaves an eccentric solid (mural) nodule opposite it.
        ratio = float(rng.uniform(0.45, 0.8))
        direction = rng.normal(size=3)
        shift = direction / np.linalg.norm(direction) * (1.0 - ratio) * radii * 0.9
        cyst = np.minimum(np.clip(inside_mm(ratio, shift) / spacing + 0.5, 0.0, 1.0), lesion)
    else:
        cyst = np.zeros_like(lesion)
    sub_brain = brain[box]
    core = lesion * sub_brain
    if core.sum() < 0.85 * lesion.sum():  # pushed out of the brain: no surface-hugging tumours
        return None
    below = posterior_fossa(x, y, z)
    share = float((core * below).sum() / max(core.sum(), 1e-6))
    if location_of(share, PLACEMENT_MARGIN[tumour.location]) != tumour.location:
        return None
    if oedema_mm > 0:
        spread = np.clip((depth + oedema_mm) / 3.0 + 0.5, 0.0, 1.0)
        oedema = np.clip(spread - lesion, 0.0, 1.0) * parenchyma[box]
    else:
        oedema = np.zeros_like(lesion)
    inside = core > 0.5
    if not inside.any():
        return None
    extent = [(float(a[inside].max() - a[inside].min()) + spacing) / 10.0 for a in np.broadcast_arrays(y, x, z)]
    maps = {}
    for name, values in (("solid", (lesion - cyst) * sub_brain), ("cyst", cyst * sub_brain), ("oedema", oedema)):
        full = np.zeros(brain.shape, np.float32)
        full[box] = values
        maps[name] = full
    return TumourMaps(maps["solid"], maps["cyst"], maps["oedema"], tuple(round(e, 2) for e in extent))


def place_tumour(rng: np.random.Generator, head: HeadModel, brain: np.ndarray, tumour: Tumour) -> TumourMaps:
    """Fraction maps of ``tumour`` in the template: jittered around its site, shrunk if it does not fit."""
    site = SITES[tumour.site]
    centre = np.array(site.centre_mni, float) * (np.array([-1.0, 1.0, 1.0]) if tumour.side == "left" else 1.0)
    parenchyma = sum(head.fractions[head.tissues.index(t)] for t in ("gm", "wm"))
    diameter_mm = tumour.diameter_cm * 10.0
    for attempt in range(PLACEMENT_TRIES):
        jitter = rng.normal(0.0, 4.0 + 4.0 * attempt / PLACEMENT_TRIES, 3)
        maps = _try_place(rng, head, brain, parenchyma, tumour, centre + jitter, diameter_mm)
        if maps is not None:
            return maps
        if attempt % 20 == 19:
            diameter_mm = max(diameter_mm * 0.93, 10.0)
    raise RuntimeError(f"could not place a {tumour.diameter_cm} cm {tumour.location} tumour at the {tumour.site} "
                       f"in {PLACEMENT_TRIES} tries; check SITES in {__name__}")


# --- rendering ---------------------------------------------------------------------------------

def flair_sequence(rng: np.random.Generator, field_t: float) -> mr.Sequence:
    """A 3D FLAIR (variable-flip TSE): long TR, TI near the CSF null, T2-equivalent TE of the echo train."""
    tr = round(float(rng.uniform(4800, 6000)), 0)
    ti = round(float(mr.null_inversion_time(mr.tissue("csf", field_t).t1, tr) * rng.uniform(0.95, 1.05)), 0)
    return mr.Sequence("IR", field_t, tr=tr, te=round(float(rng.uniform(110, 140)), 0), ti=ti)


def box_acquisition(matrix: tuple[int, int, int], slice_thickness_mm: float) -> Acquisition:
    """The atlas box as an axial grid in LPS voxel order (i -> left, j -> posterior, k -> superior)."""
    spacing = BOX_MM / np.array(matrix)
    affine = np.diag([*spacing, 1.0])
    centre_lps = LPS_TO_RAS[:3, :3] @ BOX_CENTRE_MNI
    affine[:3, 3] = centre_lps - spacing * (np.array(matrix) - 1) / 2.0
    return Acquisition(affine, tuple(int(n) for n in matrix), max(slice_thickness_mm, float(spacing[2])), "axial", 0)


def render_case(
    rng: np.random.Generator, config: TumourCohortConfig, tumour: Tumour, field_t: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, TumourMaps, dict[str, float]]:
    """The skull-stripped FLAIR volume, its segmentation (uint8), the RAS affine, the maps and tissue signals."""
    coarse = float(np.min(BOX_MM / np.array(config.matrix))) >= COARSE_HEAD_FROM_MM
    template = coarse_mni_head() if coarse else mni_head()
    brain = mni_brain_mask(coarse)
    maps = place_tumour(rng, template, brain, tumour)
    head = template.with_tissue("tumour", maps.solid).with_tissue("tumour_cyst", maps.cyst)
    head = head.with_tissue("oedema", maps.oedema)

    tissues = {name: mr.perturbed(mr.tissue(name, field_t), rng, 0.04) for name in head.tissues}
    tumour_tissue = tissues["tumour"]
    tissues["tumour"] = dataclasses.replace(tumour_tissue, t2=tumour_tissue.t2 * tumour.solid_t2_factor)
    tissues["tumour_cyst"] = dataclasses.replace(tissues["tumour_cyst"], t1=tissues["csf"].t1 * tumour.cyst_t1_factor)
    sequence = flair_sequence(rng, field_t)
    signals = {name: mr.tissue_signal(tissues[name], sequence) for name in head.tissues}

    # After affine registration to the atlas only the subject's elastic residual is left.
    subject = random_subject_deformation(rng, template)
    deformation = Deformation(LPS_TO_RAS, subject.displacement, subject.displacement_affine)
    acquisition = box_acquisition(config.matrix, float(rng.uniform(*config.slice_thickness_mm)))
    region = acquisition_region(acquisition, deformation, head.affine, head.fractions.shape[1:], 30.0)
    obj = head.cropped(region)
    sigma = float(rng.uniform(*config.noise)) * max(signals[t] for t in ("csf", "gm", "wm"))
    (volume,) = acquire([obj.signal_image(signals)], obj.affine, acquisition, deformation, rng, noise_sigmas=[sigma],
                        bias_amplitude=config.bias_field * float(rng.uniform(0.3, 1.0)))

    coords = voxel_coordinates(acquisition, deformation, obj.affine)
    solid, cyst, oedema, inside = (
        ndimage.map_coordinates(np.ascontiguousarray(m[region]), coords, order=1, mode="constant", prefilter=False)
        for m in (maps.solid, maps.cyst, maps.oedema, brain)
    )
    brain_out = inside >= 0.5
    core = solid + cyst
    seg = np.where(core >= 0.5, np.where(cyst > solid, SEG_LABELS["cyst"], SEG_LABELS["solid"]),
                   np.where(core + oedema >= 0.5, SEG_LABELS["oedema"], 0))
    seg = (seg * brain_out).astype(np.uint8)
    volume = np.where(brain_out, volume, 0.0).astype(np.float32)
    return volume, seg, LPS_TO_RAS @ acquisition.affine_lps, maps, signals


def _write_nifti(array: np.ndarray, affine: np.ndarray, path: Path) -> None:
    image = nib.Nifti1Image(array, affine)
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    image.header.set_xyzt_units("mm", "sec")
    nib.save(image, path)


def _scan_date(rng: np.random.Generator, years: tuple[int, int]) -> dt.date:
    first, last = dt.date(years[0], 1, 1), dt.date(years[1], 12, 31)
    return first + dt.timedelta(days=int(rng.integers(0, (last - first).days + 1)))


def generate_case(rng: np.random.Generator, config: TumourCohortConfig, subject: str, marker: str,
                  folder: Path) -> Case:
    """Draw, render and write one patient's FLAIR and segmentation under ``folder``; return its record."""
    tumour = draw_tumour(rng, marker)
    manufacturer = str(rng.choice(list(config.manufacturers)))
    field_t = float(rng.choice(list(config.field_strengths_t)))
    volume, seg, affine, maps, signals = render_case(rng, config, tumour, field_t)
    volume *= vendor_intensity_scale(rng, manufacturer, float(volume.max()))
    folder.mkdir(parents=True, exist_ok=True)
    _write_nifti(volume.astype(np.float32), affine, folder / f"{folder.name}-t2f.nii.gz")
    _write_nifti(seg, affine, folder / f"{folder.name}-seg.nii.gz")
    age = float(np.clip(MEDIAN_AGE[marker] + rng.normal(0.0, 4.0), 0.5, 17.9))
    measured = tuple(round(max(e + float(rng.normal(0.0, 0.1)), 0.5), 1) for e in maps.extent_cm)
    return Case(
        subject=subject, sex=str(rng.choice(["F", "M"])), age_years=round(age, 1),
        scan_date=_scan_date(rng, config.years), manufacturer=manufacturer, field_strength_t=field_t, tumour=tumour,
        extent_cm=measured, solid_to_white_matter=signals["tumour"] / signals["wm"],
        cyst_to_white_matter=signals["tumour_cyst"] / signals["wm"],
    )


def generate_tumour_cohort(
    config: TumourCohortConfig, seed: int, cohort: str, data_dir: Path, clinical_path: Path, reports_path: Path
) -> pd.DataFrame:
    """Write the cohort in the BraTS-PED 2023 layout under ``data_dir``, plus clinical.tsv and reports.tsv.

    ``data_dir/BraTS-PED-<subject>-000/BraTS-PED-<subject>-000-{t2f,seg}.nii.gz``; the clinical table
    (CLINICAL_COLUMNS) and the reports (REPORT_COLUMNS; header only when ``config.reports`` is false)
    are keyed by the dataset's subject id, as a hospital would hand them over. The cohort name seeds
    its own stream, so two cohorts with one seed differ; each patient draws from its own child seed,
    so the same seed gives byte-identical files. Returns the clinical table.
    """
    data_dir, clinical_path, reports_path = Path(data_dir), Path(clinical_path), Path(reports_path)
    data_dir.mkdir(parents=True, exist_ok=True)
    stream = np.random.SeedSequence([seed, zlib.crc32(cohort.encode())])
    markers = allot_markers(config.n_patients, config.marker_weights)
    np.random.default_rng(stream.spawn(1)[0]).shuffle(markers)
    clinical, reports = [], []
    # One core: BLAS threads only contend for it on a shared machine.
    with threadpool_limits(limits=1, user_api="blas"):
        for p, (marker, child) in enumerate(zip(markers, stream.spawn(config.n_patients))):
            rng = np.random.default_rng(child)
            subject = f"BraTS-PED-{config.first_subject + p:05d}"
            case = generate_case(rng, config, subject, marker, data_dir / f"{subject}-000")
            t = case.tumour
            clinical.append({
                "subject": subject, "timepoint": "000", "sex": case.sex, "age_years": case.age_years,
                "scan_date": case.scan_date.isoformat(), "manufacturer": case.manufacturer,
                "field_strength_t": case.field_strength_t, "location": t.location, "site": t.site_name,
                "marker": t.marker, "histology": t.histology, "marker_detail": t.marker_detail,
                "max_diameter_cm": max(case.extent_cm), "cystic": t.cystic,
                "well_circumscribed": t.well_circumscribed, "oedema": t.oedema,
            })
            if config.reports:
                reports.append({"subject": subject, "report": write_report(rng, case)})
            log.info("%s: %s %s at the %s (%d/%d)", subject, t.marker, t.location, t.site_name, p + 1,
                     config.n_patients)
    table = pd.DataFrame(clinical, columns=CLINICAL_COLUMNS)
    for path in (clinical_path, reports_path):
        path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(clinical_path, sep="\t", index=False)
    pd.DataFrame(reports, columns=REPORT_COLUMNS).to_csv(reports_path, sep="\t", index=False)
    return table
