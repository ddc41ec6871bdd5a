"""The embedded lumbar spine cohort of paper 002: sagittal T2 scans of twins, a decade apart.

Cohort (paper, section 3). Subjects come singly or as monozygotic/dizygotic twin pairs (TwinsUK);
each has a baseline scan, some a follow-up 8-12 years later, a few two. Follow-ups are on the other
field strength (1.5 T <-> 3 T) with the same sagittal T2 turbo spin echo protocol.

Anatomy. A spine is a chain of rigid vertebral bodies, T11 to the sacrum (S1-S4, fused), joined by
wedge-shaped discs: each body is a superelliptic cylinder with concave endplates and a wedge; each
disc fills the gap between its two endplates, with a nucleus that is bright while healthy. The
lordosis comes from the disc and body wedges up from the sacral slope, with a mild scoliosis. Around
it, in coordinates along the spine's centre line: the canal (CSF, the cord down to its conus near
L1-L2, the cauda equina below), posterior arches, paraspinal muscle, psoas, subcutaneous fat, the
aorta and vena cava, and bowel. A subject's vertebral bodies keep their look for life: size,
shape, marrow fat pattern (a smooth random field in each body's own frame), haemangiomas,
basivertebral veins. That is what the Siamese network of the paper learns to recognise. Twins
share part of it (monozygotic more than dizygotic), and part of their disc degeneration.

Degeneration. Each lumbar disc has a grade 1-4 (the paper's four-class, Pfirrmann-like grading):
the nucleus loses signal (it turns annulus-like, with an intranuclear cleft from grade 2), the disc
loses height and bulges posteriorly. Grades come from a latent score (level, age, a heritable
propensity, noise) and only worsen at follow-up; discs losing height also lose lordosis.

Acquisition. Each scan is a sagittal slab through the spine (pose, obliquity, field of view,
matrix, slice thickness drawn per scan), rendered from the MR signal equations of ``mr_physics``
at each voxel, averaged over its slice profile, with a posterior spine-coil profile, a smooth bias
field and Rician noise (``scanner``).

Layout: SPIDER's (``mrissl.readers.spider``): ``data/images/<id>_t2.mha``, ``data/masks/<id>_t2.mha``
(vertebrae, discs and canal numbered as SPIDER does), ``data/radiological_gradings.csv`` with
SPIDER's columns, one ``<id>`` per scan; ``scans.tsv`` beside ``data/`` maps each scan to its subject,
twin pair, zygosity, timepoint, years from baseline and field strength.
"""

from __future__ import annotations

import dataclasses
import logging
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import SimpleITK as sitk
from scipy import ndimage
from threadpoolctl import threadpool_limits

from mrissl.config import config_from_section
from mrissl.phantoms import mr_physics as mr
from mrissl.phantoms.scanner import bias_field, plan_acquisition, rician_noise, small_rotation
from mrissl.vocabulary import RAW_SCAN_COLUMNS
from mrissl.readers.spider import SPIDER_CANAL_LABEL, SPIDER_DISC_LABELS, SPIDER_GRADINGS, SPIDER_VERTEBRA_LABELS

log = logging.getLogger(__name__)

# The chain, bottom to top: the fused sacrum, the lumbar spine, two thoracic vertebrae.
CHAIN = ("S4", "S3", "S2", "S1", "L5", "L4", "L3", "L2", "L1", "T12", "T11")
SACRAL = ("S4", "S3", "S2")
# Vertebral body height, antero-posterior depth, left-right width (mm): typical adult values.
BODY_MM = {
    "S4": (16.0, 16.0, 24.0), "S3": (20.0, 22.0, 32.0), "S2": (24.0, 28.0, 40.0), "S1": (28.0, 36.0, 48.0),
    "L5": (26.0, 35.0, 50.0), "L4": (27.0, 35.0, 48.0), "L3": (27.0, 34.0, 46.0), "L2": (26.5, 33.0, 44.0),
    "L1": (25.5, 32.0, 42.0), "T12": (24.0, 30.0, 40.0), "T11": (23.0, 29.0, 38.0),
}
# Body wedge (degrees, anterior minus posterior height): thoracolumbar kyphotic, L5 lordotic.
BODY_WEDGE_DEG = {"L5": 5.0, "L4": 1.0, "L3": 0.0, "L2": -1.5, "L1": -3.0, "T12": -4.0, "T11": -5.0}
# Discs, named upper-lower: healthy mid-height (mm) and lordotic wedge (degrees).
DISC_HEIGHT_MM = {"L5-S1": 10.0, "L4-L5": 11.0, "L3-L4": 10.0, "L2-L3": 9.0, "L1-L2": 8.0, "T12-L1": 7.0,
                  "T11-T12": 6.0}
DISC_WEDGE_DEG = {"L5-S1": 13.0, "L4-L5": 10.0, "L3-L4": 8.0, "L2-L3": 6.0, "L1-L2": 4.0, "T12-L1": 2.0,
                  "T11-T12": 0.0}
SACRAL_KYPHOSIS_DEG = 15.0    # per fused segment, going down
SACRAL_REMNANT_MM = 2.5       # the ossified discs between sacral segments
GRADED_DISCS = ("L1-L2", "L2-L3", "L3-L4", "L4-L5", "L5-S1")  # paper, section 3.1
LUMBAR_DISCS = ("T12-L1", *GRADED_DISCS)
# Degeneration by grade: nucleus turned annulus-like, disc height, nucleus size, posterior bulge (mm).
NUCLEUS_LOSS = {1: 0.0, 2: 0.3, 3: 0.6, 4: 0.95}
HEIGHT_FACTOR = {1: 1.0, 2: 0.92, 3: 0.78, 4: 0.6}
NUCLEUS_SIZE = {1: 1.0, 2: 0.9, 3: 0.75, 4: 0.6}
BULGE_MM = {1: 0.0, 2: 0.5, 3: 1.5, 4: 2.5}
# Latent degeneration score: level effect, + per year of age over 50, thresholds between grades.
LEVEL_DEGENERATION = {"T12-L1": -0.8, "L1-L2": -0.6, "L2-L3": -0.3, "L3-L4": 0.0, "L4-L5": 0.5, "L5-S1": 0.6}
AGE_DEGENERATION_PER_YEAR = 0.025
GRADE_THRESHOLDS = (0.0, 0.8, 1.5)
# Share of the random anatomy twins have in common.
TWIN_SHARE = {"MZ": 0.8, "DZ": 0.4}
CORTEX_MM = 1.2
MIN_POSTERIOR_DISC_MM = 1.5   # a disc's wedge never closes it posteriorly
TEXTURE_LATTICE = (12, 14, 14)  # marrow fat field per body, over its normalised (u, v, w) extent
TEXTURE_EXTENT = 1.15
CENTRELINE_GRID_MM = 2.0
NOISE_REFERENCE_TISSUES = ("csf", "fat", "disc_nucleus", "marrow", "muscle")
TISSUE_NAMES = ("marrow", "fat", "bone", "disc_nucleus", "disc_annulus", "csf", "spinal_cord", "muscle",
                "artery", "vein")
COIL_DEPTH_MM = 150.0         # spine array coil sensitivity: 1/e depth of its decaying part
POINTS_PER_CHUNK = 1_500_000  # rendered at once (a few slices of a large matrix)
STORED_MAX = (1500.0, 3500.0)  # scanner gain: the brightest stored value of a scan (uint16)


@dataclasses.dataclass(frozen=True)
class SpineCohortConfig:
    """``phantom.spine`` of the config (ranges are inclusive [low, high])."""

    n_subjects: int
    n_followup: int                   # subjects with at least one follow-up
    second_followup_fraction: float   # of those, the share with a second follow-up
    twin_fraction: float              # share of subjects who belong to a twin pair
    monozygotic_fraction: float       # of the twin pairs
    graded_fraction: float            # subjects whose discs are graded (paper: 920 of 1016)
    followup_years: tuple[float, float]
    field_strengths_t: tuple[float, ...]  # baseline drawn from these; follow-ups on another one
    matrix: tuple[int, int]
    fov_mm: tuple[float, float]
    n_slices: tuple[int, int]
    slice_thickness_mm: tuple[float, float]
    noise: tuple[float, float]        # Rician sigma relative to the brightest tissue
    bias_field: float

    @classmethod
    def from_config(cls, spine: dict) -> SpineCohortConfig:
        config = config_from_section(cls, spine, "phantom.spine")
        low, high = config.followup_years
        if config.second_followup_fraction > 0 and high - low < 1.0:
            raise ValueError(f"phantom.spine.followup_years {list(config.followup_years)} must span at least a year "
                             f"for second follow-ups (or set second_followup_fraction to 0)")
        if not 0 <= config.n_followup <= config.n_subjects:
            raise ValueError(f"phantom.spine.n_followup ({config.n_followup}) must lie within 0..n_subjects "
                             f"({config.n_subjects})")
        return config


# --- subjects -----------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Subject:
    """A subject of the cohort: raw ids (they go to scans.tsv only) and scan schedule."""

    index: int
    subject_id: str
    twin_pair: str        # "" for a singleton
    zygosity: str         # MZ | DZ | ""
    pair_index: int       # -1 for a singleton
    years: tuple[float, ...]  # 0 for the baseline, then each follow-up
    graded: bool


@dataclasses.dataclass(frozen=True)
class Anatomy:
    """What stays a subject's own for life (mm, radians); the discs' height and wedge at a visit
    follow from their grades (``build_spine``)."""

    body: dict[str, tuple[float, float, float]]   # height, half depth a, half width b
    exponent: float                                # superellipse of the body cross-section
    concavity: float                               # endplate concavity depth, mm
    body_wedge: dict[str, float]                   # radians
    disc_height: dict[str, float]                  # healthy mid-height
    disc_wedge: dict[str, float]                   # healthy wedge, radians
    sacral_slope: float
    scoliosis: tuple[float, float]                 # lateral amplitude (mm), phase
    canal: tuple[float, float]                     # depth, width
    conus: float                                   # cord ends this far above the L1-L2 disc (mm)
    muscle_mm: float
    fat_mm: tuple[float, float]                    # posterior, anterior subcutaneous fat
    abdomen_mm: float
    aorta_mm: float
    marrow_fat: dict[str, float]                   # mean fat fraction per body
    marrow_texture: dict[str, np.ndarray]          # unit-variance smooth field per body (TEXTURE_LATTICE)
    texture_amplitude: float
    haemangiomas: tuple[tuple[str, np.ndarray, float], ...]  # body, centre (normalised u, v, w), radius mm
    age: float                                     # at baseline, years
    propensity: float                              # heritable disc degeneration
    progression: float                             # latent score gained per decade


class AnatomyDraw:
    """Standard normals mixed from a twin pair's stream and the subject's own.

    Both twins call the same sequence of draws, so their pair streams agree; ``share`` of the
    variance is common (0 for singletons).
    """

    def __init__(self, own: np.random.Generator, pair: np.random.Generator | None, share: float):
        self.own, self.pair, self.share = own, pair, share

    def normal(self, size=None) -> np.ndarray | float:
        own = self.own.standard_normal(size)
        if self.pair is None:
            return own
        return np.sqrt(self.share) * self.pair.standard_normal(size) + np.sqrt(1.0 - self.share) * own


def _around(draw: AnatomyDraw, mean: float, sd: float, low: float, high: float) -> float:
    return float(np.clip(mean + sd * draw.normal(), low, high))


def draw_anatomy(draw: AnatomyDraw, own: np.random.Generator, age: float) -> Anatomy:
    """A subject's spine at ``age``: size, shape, lordosis, marrow, soft tissue, degeneration tendency."""
    stature = 1.0 + 0.05 * draw.normal()
    depth_scale, width_scale = 1.0 + 0.06 * draw.normal(2)
    body = {}
    for name in CHAIN:
        height, depth, width = BODY_MM[name]
        jitter = 1.0 + 0.035 * draw.normal(3)
        body[name] = (height * stature * jitter[0], depth * depth_scale * jitter[1] / 2.0,
                      width * width_scale * jitter[2] / 2.0)
    body_wedge = {name: np.radians(deg + 1.5 * draw.normal()) for name, deg in BODY_WEDGE_DEG.items()}
    lordosis = 1.0 + 0.2 * draw.normal()
    disc_height = {name: h * stature * (1.0 + 0.08 * draw.normal()) for name, h in DISC_HEIGHT_MM.items()}
    disc_wedge = {name: np.radians(max(0.0, deg * lordosis + 1.0 * draw.normal()))
                  for name, deg in DISC_WEDGE_DEG.items()}
    texture = {}
    for name in ("T11", "T12", "L1", "L2", "L3", "L4", "L5", "S1"):
        field = ndimage.gaussian_filter(draw.normal(TEXTURE_LATTICE), sigma=1.0, mode="nearest")
        texture[name] = (field / field.std()).astype(np.float32)
    fat_mean = _around(draw, 0.3, 0.08, 0.1, 0.6)
    marrow_fat = {name: _around(draw, fat_mean, 0.04, 0.05, 0.7) for name in CHAIN}
    # Haemangiomas: acquired, the subject's own (0-3, mostly in the lower lumbar bodies).
    lesions = []
    for _ in range(int(own.choice(4, p=[0.55, 0.3, 0.1, 0.05]))):
        name = str(own.choice(["T12", "L1", "L2", "L3", "L4", "L5", "S1"], p=[0.08, 0.1, 0.14, 0.18, 0.2, 0.2, 0.1]))
        lesions.append((name, own.uniform(-0.55, 0.55, 3), float(own.uniform(2.5, 7.0))))
    return Anatomy(
        body=body,
        exponent=_around(draw, 2.4, 0.3, 1.8, 3.2),
        concavity=_around(draw, 1.2, 0.4, 0.3, 2.5),
        body_wedge=body_wedge,
        disc_height=disc_height,
        disc_wedge=disc_wedge,
        sacral_slope=float(np.radians(_around(draw, 38.0, 7.0, 20.0, 60.0))),
        scoliosis=(float(2.5 * draw.normal()), float(own.uniform(0.0, 2.0 * np.pi))),
        canal=(_around(draw, 15.0, 2.0, 10.0, 21.0), _around(draw, 22.0, 2.0, 16.0, 28.0)),
        conus=float(10.0 * draw.normal()),
        muscle_mm=_around(draw, 50.0, 8.0, 30.0, 75.0),
        fat_mm=(_around(draw, 22.0, 10.0, 5.0, 60.0), _around(draw, 25.0, 10.0, 5.0, 60.0)),
        abdomen_mm=_around(draw, 120.0, 20.0, 70.0, 180.0),
        aorta_mm=_around(draw, 10.0, 1.5, 7.0, 14.0),
        marrow_fat=marrow_fat,
        marrow_texture=texture,
        texture_amplitude=_around(draw, 0.2, 0.05, 0.1, 0.3),
        haemangiomas=tuple(lesions),
        age=age,
        propensity=float(0.6 * draw.normal()),
        progression=float(max(0.0, 0.2 + 0.15 * draw.normal())),
    )


def disc_grades(anatomy: Anatomy, years: float, noise: dict[str, float], progress: dict[str, float]) -> dict[str, int]:
    """Grade 1-4 of each lumbar disc ``years`` after baseline: thresholds on the latent score.

    ``noise`` is the disc's own baseline deviation, ``progress`` its own share of the decade's change;
    the score only grows with time, so grades never improve.
    """
    grades = {}
    for disc in LUMBAR_DISCS:
        score = (LEVEL_DEGENERATION[disc] + AGE_DEGENERATION_PER_YEAR * (anatomy.age + years - 50.0)
                 + anatomy.propensity + noise[disc] + anatomy.progression * progress[disc] * years / 10.0)
        grades[disc] = 1 + int(np.searchsorted(GRADE_THRESHOLDS, score))
    return grades


# --- the spine at one timepoint --------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Body:
    """A rigid vertebral body: centre (x left, ant, sup) in mm, axis tilted anteriorly by ``angle``."""

    name: str
    label: int
    centre: np.ndarray
    angle: float
    height: float
    a: float          # half depth (antero-posterior)
    b: float          # half width (left-right)
    wedge: float      # radians, anterior taller when > 0

    def local(self, x, ant, sup):
        """(u, v, w): along the axis (up), anterior, left, relative to the centre."""
        da, ds = ant - self.centre[1], sup - self.centre[2]
        c, s = np.cos(self.angle), np.sin(self.angle)
        return da * s + ds * c, da * c - ds * s, x - self.centre[0]

    def endplate(self, end: int) -> np.ndarray:
        """Centre of the upper (+1) or lower (-1) endplate."""
        return self.centre + end * self.height / 2.0 * np.array([0.0, np.sin(self.angle), np.cos(self.angle)])

    def endplate_angle(self, end: int) -> float:
        """Tilt of the upper (+1) or lower (-1) endplate's normal."""
        return self.angle - end * self.wedge / 2.0


@dataclasses.dataclass(frozen=True)
class Disc:
    name: str
    label: int
    lower: Body
    upper: Body
    grade: int        # 0: a sacral remnant
    loss: float       # nucleus signal turned annulus-like


@dataclasses.dataclass(frozen=True)
class Spine:
    bodies: tuple[Body, ...]   # CHAIN order
    discs: tuple[Disc, ...]
    nodes: np.ndarray          # centre line (ant, sup) through the endplate centres, bottom to top
    node_s: np.ndarray         # arc length at each node, 0 at the S1 centre
    outline: np.ndarray        # a smoother line (ant, sup) the body surface follows: vertical below S1

    def body(self, name: str) -> Body:
        return self.bodies[CHAIN.index(name)]

    @property
    def body_s(self) -> np.ndarray:
        """Arc length of each body's centre (CHAIN order)."""
        return np.array([self.node_s[2 * i + 1] + b.height / 2.0 for i, b in enumerate(self.bodies)])

    def gap_s(self, index: int) -> tuple[float, float]:
        """Arc lengths of the endplates bounding the disc above body ``index``."""
        return float(self.node_s[2 * index + 2]), float(self.node_s[2 * index + 3])


def build_spine(anatomy: Anatomy, grades: dict[str, int], loss_jitter: dict[str, float]) -> Spine:
    """The chain of bodies and discs for the disc ``grades``; S1's centre at the origin."""
    def rotate(angle):
        return np.array([0.0, np.sin(angle), np.cos(angle)])

    amplitude, phase = anatomy.scoliosis
    lateral = {name: amplitude * np.sin(np.pi * i / (len(CHAIN) - 1) + phase) for i, name in enumerate(CHAIN)}

    def body(name, centre, angle):
        height, a, b = anatomy.body[name]
        centre = centre.copy()
        centre[0] = lateral[name]
        return Body(name, SPIDER_VERTEBRA_LABELS.get(name, 0), centre, angle, height, a, b,
                    anatomy.body_wedge.get(name, 0.0))

    s1 = body("S1", np.zeros(3), anatomy.sacral_slope)
    chain = {"S1": s1}
    below = s1
    for name in CHAIN[CHAIN.index("S1") + 1:]:
        disc = f"{name}-{below.name}"
        grade = grades.get(disc, 1)
        height = anatomy.disc_height[disc] * HEIGHT_FACTOR[grade]
        mean_a = (below.a + anatomy.body[name][1]) / 2.0
        wedge = min(anatomy.disc_wedge[disc] * HEIGHT_FACTOR[grade], 2.0 * (height - MIN_POSTERIOR_DISC_MM) / mean_a)
        lower_face = below.endplate_angle(+1)
        upper_face = lower_face - wedge
        angle = upper_face - anatomy.body_wedge.get(name, 0.0) / 2.0
        start = below.endplate(+1) + height * rotate((lower_face + upper_face) / 2.0)
        chain[name] = body(name, start + anatomy.body[name][0] / 2.0 * rotate(angle), angle)
        below = chain[name]
    above = s1
    for name in reversed(CHAIN[: CHAIN.index("S1")]):
        angle = above.angle - np.radians(SACRAL_KYPHOSIS_DEG)  # concave in front
        start = above.endplate(-1) - SACRAL_REMNANT_MM * rotate((above.angle + angle) / 2.0)
        chain[name] = body(name, start - anatomy.body[name][0] / 2.0 * rotate(angle), angle)
        above = chain[name]
    bodies = tuple(chain[name] for name in CHAIN)

    discs = []
    for lower, upper in zip(bodies[:-1], bodies[1:]):
        name = f"{upper.name}-{lower.name}"
        grade = grades.get(name, 1) if name in DISC_HEIGHT_MM else 0
        loss = float(np.clip(NUCLEUS_LOSS[grade] + loss_jitter.get(name, 0.0), 0.0, 0.95)) if grade else 1.0
        discs.append(Disc(name, SPIDER_DISC_LABELS.get(name, 0), lower, upper, grade, loss))

    # Centre line through the endplate centres, extended beyond both ends along the end axes.
    points = [bodies[0].endplate(-1) - 60.0 * rotate(bodies[0].angle)]
    for b in bodies:
        points += [b.endplate(-1), b.endplate(+1)]
    points.append(bodies[-1].endplate(+1) + 80.0 * rotate(bodies[-1].angle))
    nodes = np.array(points)[:, 1:]
    s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(nodes, axis=0), axis=1))])
    s_of_s1 = s[2 * CHAIN.index("S1") + 1] + s1.height / 2.0
    lumbar = [chain[name].centre[1:] for name in CHAIN[CHAIN.index("S1"):]]
    top = chain[CHAIN[-1]]
    outline = np.array([lumbar[0] - [0.0, 150.0], *lumbar, top.centre[1:] + 150.0 * rotate(top.angle)[1:]])
    return Spine(bodies, tuple(discs), nodes, s - s_of_s1, outline)


# --- rendering ------------------------------------------------------------------------------------

def line_coordinates(
    nodes: np.ndarray, ant: np.ndarray, sup: np.ndarray, grid_mm: float = CENTRELINE_GRID_MM
) -> tuple[np.ndarray, np.ndarray]:
    """Arc length ``s`` along a polyline (``nodes``: (ant, sup)) and signed anterior distance ``d`` from it.

    Exact on the nodes of a ``grid_mm`` grid (nearest segment of the polyline), interpolated
    bilinearly in between; the grid is anchored at multiples of ``grid_mm``, so a point gets the same
    coordinates whichever other points come with it.
    """
    lo = np.floor(np.array([ant.min(), sup.min()]) / grid_mm - 2) * grid_mm
    hi = np.array([ant.max(), sup.max()]) + 2 * grid_mm
    axes = [np.arange(l, h + grid_mm, grid_mm) for l, h in zip(lo, hi)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 2)
    start, step = nodes[:-1], np.diff(nodes, axis=0)
    length = np.linalg.norm(step, axis=1)
    node_s = np.concatenate([[0.0], np.cumsum(length)])
    offset = grid[:, None, :] - start[None]
    t = np.clip((offset * step[None]).sum(-1) / length**2, 0.0, 1.0)
    residual = offset - t[..., None] * step[None]
    nearest = np.argmin((residual**2).sum(-1), axis=1)
    rows = np.arange(len(grid))
    tangent = step[nearest] / length[nearest, None]
    normal = np.stack([tangent[:, 1], -tangent[:, 0]], axis=1)  # anterior
    s_grid = node_s[nearest] + t[rows, nearest] * length[nearest]
    closest = residual[rows, nearest]
    # The distance itself (beyond a segment's end its normal component would fall short), signed.
    d_grid = np.copysign(np.linalg.norm(closest, axis=1), (closest * normal).sum(-1))
    shape = tuple(len(a) for a in axes)
    coords = np.stack([(ant - lo[0]) / grid_mm, (sup - lo[1]) / grid_mm])
    s = ndimage.map_coordinates(s_grid.reshape(shape), coords, order=1, mode="nearest")
    d = ndimage.map_coordinates(d_grid.reshape(shape), coords, order=1, mode="nearest")
    return s.astype(np.float32), d.astype(np.float32)


def _superellipse(v, w, a, b, p):
    return np.abs(v / a) ** p + np.abs(w / b) ** p


def _endplates(body: Body, v, q, concavity):
    """Upper and lower surface heights (u) of ``body`` over (v, q): wedge plus concave endplates."""
    tilt = np.tan(body.wedge / 2.0) * v
    dip = concavity * np.clip(1.0 - q, 0.0, 1.0)
    return body.height / 2.0 + tilt - dip, -body.height / 2.0 - tilt + dip


class _Scene:
    """Points in subject mm with their spine coordinates, and the signal and label painted on them.

    ``s`` (arc length, 0 at S1's centre) and ``d`` (anterior distance) are along the spine's centre
    line, ``xr`` is left of it. Later paint covers earlier. ``near`` finds the points around a
    stretch of the spine through a sort on ``s``, so a structure only touches its neighbourhood.
    """

    def __init__(self, spine: Spine, x: np.ndarray, ant: np.ndarray, sup: np.ndarray, profile: int):
        self.x, self.ant, self.sup = x, ant, sup
        s, d = line_coordinates(spine.nodes, *_profile_middles(profile, ant, sup))
        self.s, self.d = np.repeat(s + spine.node_s[0], profile), np.repeat(d, profile)
        self.xr = x - np.interp(self.s, spine.body_s, [b.centre[0] for b in spine.bodies]).astype(np.float32)
        self.order = np.argsort(self.s, kind="stable")
        self.sorted_s = self.s[self.order]
        self.signal = np.zeros(len(x), np.float32)
        self.label = np.zeros(len(x), np.uint8)

    def near(self, centre_s: float, half_s: float, half_d: float, d_offset: np.ndarray | float = 0.0) -> np.ndarray:
        """Indices of the points within ``half_s`` of ``centre_s`` along and ``half_d`` of ``d_offset`` across."""
        lo, hi = np.searchsorted(self.sorted_s, [centre_s - half_s, centre_s + half_s])
        candidates = self.order[lo:hi]
        offset = d_offset[candidates] if isinstance(d_offset, np.ndarray) else d_offset
        return candidates[np.abs(self.d[candidates] - offset) < half_d]

    def paint(self, where: np.ndarray, value, label: int | None = None) -> None:
        self.signal[where] = value
        if label is not None:
            self.label[where] = label


def _profile_middles(profile: int, *coordinates: np.ndarray) -> list[np.ndarray]:
    """The middle point of each run of ``profile`` consecutive points (a voxel's slice profile)."""
    return [c.reshape(-1, profile)[:, profile // 2] for c in coordinates]


def render_points(
    spine: Spine, anatomy: Anatomy, signal: dict[str, float], x: np.ndarray, ant: np.ndarray, sup: np.ndarray,
    bowel: np.ndarray, bowel_affine: tuple[np.ndarray, float], profile: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Noise-free signal, SPIDER mask label and depth below the back's skin (mm) at subject points.

    Points are (x left, ant, sup) in subject mm, in runs of ``profile`` across each voxel's slice:
    the slow coordinates along the spine come from a run's middle point (the runs lie along the
    slice normal, nearly left-right, so they differ by a fraction of a millimetre in (ant, sup)).
    ``bowel`` is a random field on the lattice ``bowel_affine`` (origin, step) that sets the bowel's
    mix of fluid, wall and fat.
    """
    scene = _Scene(spine, x, ant, sup, profile)
    s, d, xr = scene.s, scene.d, scene.xr
    a_s = np.interp(s, spine.body_s, [b.a for b in spine.bodies]).astype(np.float32)
    b_s = np.interp(s, spine.body_s, [b.b for b in spine.bodies]).astype(np.float32)

    # Soft tissue, outside in. The body surface follows the smoother outline (lordotic back, buttocks
    # below the sacrum); muscle thins over the sacrum.
    d_body = np.repeat(line_coordinates(spine.outline, *_profile_middles(profile, ant, sup),
                                        grid_mm=2.0 * CENTRELINE_GRID_MM)[1], profile)
    depth, width = anatomy.canal
    spine_depth = float(np.mean([b.a for b in spine.bodies])) + depth + 6.0
    muscle = anatomy.muscle_mm * np.clip(0.45 + 0.55 * (sup + 10.0) / 60.0, 0.45, 1.0)
    back_skin = -spine_depth - muscle - anatomy.fat_mm[0]
    front_skin = spine_depth + anatomy.abdomen_mm
    body = (d_body > back_skin) & (d_body < front_skin)
    scene.paint(body, signal["fat"])
    scene.paint(body & (d_body > back_skin + anatomy.fat_mm[0]) & (d_body < front_skin - anatomy.fat_mm[1]),
                signal["muscle"])
    # Bowel in front of the prevertebral space: fluid, wall and fat from a per-scan random field.
    gut = np.flatnonzero(body & (d > a_s + 6.0) & (d_body < front_skin - anatomy.fat_mm[1] - 8.0))
    lattice_origin, lattice_step = bowel_affine
    coords = (np.stack([x[gut], ant[gut], sup[gut]]) - lattice_origin[:, None]) / lattice_step
    g = ndimage.map_coordinates(bowel, coords, order=1, mode="nearest")
    scene.paint(gut, signal["muscle"] + (signal["csf"] - signal["muscle"]) * 0.6 * np.clip(g, 0, 1)
                + (signal["fat"] - signal["muscle"]) * 0.5 * np.clip(-g - 0.3, 0, 1))
    scene.paint(body & (d > a_s - 2.0) & (d <= a_s + 6.0), signal["fat"])  # prevertebral
    # Psoas beside the lumbar bodies.
    scene.paint(body & (np.abs(xr) > b_s + 2.0) & (d > -a_s) & (d < a_s + 6.0) & (s > -10.0), signal["muscle"])
    # Aorta (left) down to its bifurcation at L4, vena cava (right).
    above_l4 = s > spine.body_s[CHAIN.index("L4")]
    for side, radius, tissue in ((12.0, anatomy.aorta_mm, "artery"), (-16.0, anatomy.aorta_mm + 1.5, "vein")):
        scene.paint(above_l4 & (((d - a_s - 3.0 - radius) ** 2 + (xr - side) ** 2) < radius**2), signal[tissue])
    # Canal: CSF with the cord down to the conus, the cauda equina below; dorsal epidural fat.
    canal_back = -a_s - depth
    centre = -a_s - depth / 2.0 + 0.5
    canal = ((d - centre) / (depth / 2.0)) ** 2 + (xr / (width / 2.0)) ** 2 <= 1.0
    scene.paint(body & (d < -a_s + 1.0) & (d > canal_back - 4.0) & (np.abs(xr) < width / 2.0 + 2.0), signal["fat"])
    scene.paint(canal, signal["csf"], SPIDER_CANAL_LABEL)
    conus = spine.gap_s(CHAIN.index("L2"))[0] + anatomy.conus
    radius = 4.5 * np.clip((s - conus) / 15.0, 0.0, 1.0)
    scene.paint(canal & (((d - centre + 1.0) ** 2 + xr**2) < radius**2), signal["spinal_cord"])
    scene.paint(canal & (s < conus) & (d < centre), 0.75 * signal["csf"] + 0.25 * signal["spinal_cord"])  # roots
    for index, vertebra in enumerate(spine.bodies):
        _render_arch(scene, vertebra, spine.body_s[index], canal_back, a_s, anatomy, signal)
    for index, disc in enumerate(spine.discs):
        _render_disc(scene, disc, spine.gap_s(index), anatomy, signal)
    for index, vertebra in enumerate(spine.bodies):
        _render_body(scene, vertebra, spine.body_s[index], anatomy, signal)
    return scene.signal, scene.label, np.clip(d_body - back_skin, 0.0, None)


def _render_arch(scene: _Scene, vertebra: Body, s_centre: float, canal_back: np.ndarray, a_s: np.ndarray,
                 anatomy: Anatomy, signal: dict[str, float]) -> None:
    """Pedicles beside the canal, laminae behind it, a spinous process sloping down; the sacrum's plate."""
    h, (_, width) = vertebra.height, anatomy.canal
    near = scene.near(s_centre, h + 25.0, 70.0, d_offset=canal_back)
    ss, dd, xx, back = scene.s[near] - s_centre, scene.d[near], scene.xr[near], canal_back[near]
    behind = back - 1.0 - dd
    arch = 0.8 * signal["marrow"] + 0.2 * signal["bone"]  # fatty marrow in a thin cortex
    pedicle = (ss > -0.15 * h) & (ss < 0.35 * h) & (dd < -a_s[near]) & (dd > back) & \
        (np.abs(xx) > width / 2.0) & (np.abs(xx) < width / 2.0 + 7.0)
    if vertebra.name in (*SACRAL, "S1"):
        plate = (ss > -0.5 * h) & (ss < 0.5 * h) & (behind > 0) & (behind < 9.0) & (np.abs(xx) < vertebra.b)
        scene.paint(near[pedicle | plate], arch)
        return
    sloped = ss + 0.3 * np.clip(behind, 0.0, None)
    lamina = (ss > -0.45 * h) & (ss < 0.2 * h) & (behind > 0) & (behind < 7.0) & (np.abs(xx) < width / 2.0 + 8.0)
    spinous = (sloped > -0.45 * h) & (sloped < 0.15 * h) & (behind > 0) & (behind < 28.0 + 0.2 * h) & (np.abs(xx) < 3.5)
    ligament = (behind > 0) & (behind < 28.0) & (np.abs(xx) < 1.5)  # interspinous
    scene.paint(near[ligament], signal["bone"])
    scene.paint(near[pedicle | lamina | spinous], arch)


def _render_disc(scene: _Scene, disc: Disc, gap_s: tuple[float, float], anatomy: Anatomy,
                 signal: dict[str, float]) -> None:
    """The gap between two endplates within the discs' cross-section: annulus, and a nucleus that
    turns annulus-like (with a cleft from grade 2) as the disc degenerates."""
    lower, upper = disc.lower, disc.upper
    half = (gap_s[1] - gap_s[0]) / 2.0
    near = scene.near(gap_s[0] + half, half + anatomy.concavity + 4.0, max(lower.a, upper.a) + 8.0)
    px, pa, ps = scene.x[near], scene.ant[near], scene.sup[near]
    u1, v1, w1 = lower.local(px, pa, ps)
    u2, v2, w2 = upper.local(px, pa, ps)
    q1 = _superellipse(v1, w1, lower.a, lower.b, anatomy.exponent)
    q2 = _superellipse(v2, w2, upper.a, upper.b, anatomy.exponent)
    between = (u1 >= _endplates(lower, v1, q1, anatomy.concavity)[0] - 0.3) & \
        (u2 <= _endplates(upper, v2, q2, anatomy.concavity)[1] + 0.3)
    bottom, top = lower.endplate(+1), upper.endplate(-1)
    angle = (lower.endplate_angle(+1) + upper.endplate_angle(-1)) / 2.0
    u, v, w = dataclasses.replace(lower, centre=(bottom + top) / 2.0, angle=angle).local(px, pa, ps)
    grade = max(disc.grade, 1)
    a = (lower.a + upper.a) / 2.0 + 0.5 + np.where(v < 0, BULGE_MM[grade] if disc.grade else 0.0, 0.0)
    b = (lower.b + upper.b) / 2.0 + 0.5
    inside = between & (_superellipse(v, w, a, b, anatomy.exponent) <= 1.0)
    annulus = signal["disc_annulus"] if disc.grade else 0.5 * (signal["disc_annulus"] + signal["bone"])
    value = np.full(len(near), annulus, np.float32)
    if disc.grade:
        size = NUCLEUS_SIZE[grade]
        rho = np.sqrt(((v + 0.05 * a) / (0.5 * a * size)) ** 2 + (w / (0.55 * b * size)) ** 2
                      + (u / (0.36 * np.linalg.norm(top - bottom) * size)) ** 2)
        weight = np.clip((1.0 - rho) / 0.35, 0.0, 1.0)
        if disc.grade >= 2:  # intranuclear cleft
            weight *= 1.0 - 0.7 * np.exp(-((u / 0.9) ** 2))
        nucleus = (1.0 - disc.loss) * signal["disc_nucleus"] + disc.loss * signal["disc_annulus"]
        value += weight * (nucleus - annulus)
    scene.paint(near[inside], value[inside], disc.label or None)


def _render_body(scene: _Scene, vertebra: Body, s_centre: float, anatomy: Anatomy, signal: dict[str, float]) -> None:
    """Cortex around fatty marrow with the subject's fat pattern, basivertebral vein, haemangiomas."""
    near = scene.near(s_centre, vertebra.height / 2.0 + 6.0, vertebra.a + 6.0)
    u, v, w = vertebra.local(scene.x[near], scene.ant[near], scene.sup[near])
    a, b, p = vertebra.a, vertebra.b, anatomy.exponent
    q = _superellipse(v, w, a, b, p)
    top, bottom = _endplates(vertebra, v, q, anatomy.concavity)
    inside = (q <= 1.0) & (u <= top) & (u >= bottom)
    cortex = ((_superellipse(v, w, a - CORTEX_MM, b - CORTEX_MM, p) > 1.0)
              | (u > top - CORTEX_MM) | (u < bottom + CORTEX_MM))
    fat = np.full(len(near), anatomy.marrow_fat[vertebra.name], np.float32)
    normalised = np.stack([u / (vertebra.height / 2.0), v / a, w / b])
    if vertebra.name in anatomy.marrow_texture:
        lattice = np.array(TEXTURE_LATTICE, np.float32)[:, None]
        coords = (normalised + TEXTURE_EXTENT) / (2.0 * TEXTURE_EXTENT) * (lattice - 1.0)
        fat += anatomy.texture_amplitude * ndimage.map_coordinates(
            anatomy.marrow_texture[vertebra.name], coords, order=1, mode="nearest")
    fat = np.clip(fat, 0.02, 0.9)
    value = (1.0 - fat) * signal["marrow"] + fat * signal["fat"]
    # Basivertebral vein: a fluid-bright cleft entering the back of the body at mid-height.
    value = np.where((np.abs(u) < 1.0) & (v < -0.7 * a) & (np.abs(w) < 3.0), signal["csf"], value)
    for name, centre, radius in anatomy.haemangiomas:
        if name == vertebra.name:
            offset = (normalised - centre[:, None]) * np.array([vertebra.height / 2.0, a, b])[:, None]
            value = np.where((offset**2).sum(0) < radius**2, 0.5 * (signal["fat"] + signal["csf"]), value)
    value = np.where(cortex, signal["bone"], value)
    scene.paint(near[inside], value[inside], vertebra.label or None)


# --- scans ----------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class ScanProtocol:
    field_t: float
    tr: float
    te: float
    matrix: int
    fov_mm: float
    n_slices: int
    thickness_mm: float
    gap_mm: float
    noise: float
    bias: float


def draw_protocol(rng: np.random.Generator, config: SpineCohortConfig, field_t: float) -> ScanProtocol:
    """The study's sagittal T2 TSE protocol, with the small variation of its repeats."""
    thickness = round(float(rng.uniform(*config.slice_thickness_mm)), 1)
    return ScanProtocol(
        field_t=field_t, tr=round(float(rng.uniform(3000, 4500))), te=round(float(rng.uniform(95, 115))),
        matrix=int(round(rng.uniform(*config.matrix) / 2.0) * 2), fov_mm=round(float(rng.uniform(*config.fov_mm))),
        n_slices=int(rng.integers(config.n_slices[0], config.n_slices[1] + 1)), thickness_mm=thickness,
        gap_mm=round(thickness * float(rng.choice([0.0, 0.1, 0.2])), 2),
        noise=float(rng.uniform(*config.noise)), bias=config.bias_field * float(rng.uniform(0.3, 1.0)),
    )


def scan_signals(rng: np.random.Generator, protocol: ScanProtocol) -> dict[str, float]:
    """Each tissue's TSE signal for this scan (tissue parameters perturbed a little per scan)."""
    sequence = mr.Sequence("SE", protocol.field_t, tr=protocol.tr, te=protocol.te)
    return {name: mr.tissue_signal(mr.perturbed(mr.tissue(name, protocol.field_t), rng, 0.03), sequence)
            for name in TISSUE_NAMES}


def acquire_scan(
    rng: np.random.Generator, spine: Spine, anatomy: Anatomy, protocol: ScanProtocol
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Image (float32), mask (uint8) and LPS affine of one sagittal scan of ``spine``.

    Subject coordinates are LPS-aligned mm with S1's centre at the origin; the patient lies in
    the scanner with a small rotation and offset, the slab is centred between T12 and S1 (left-right
    on L3) and tilted a little.
    """
    pose = small_rotation(rng, 4.0)          # scanner -> subject rotation
    shift = rng.normal(0.0, [3.0, 6.0, 8.0])
    middle = (spine.body("T12").centre + spine.body("S1").centre) / 2.0
    target = np.array([spine.body("L3").centre[0] + rng.normal(0.0, 2.5), -(middle[1] + rng.normal(0.0, 8.0)),
                       middle[2] + rng.normal(0.0, 8.0)])
    acquisition = plan_acquisition(
        "sagittal", pose.T @ (target - shift), fov_mm=protocol.fov_mm, matrix=protocol.matrix, phase_fov=1.0,
        phase_axis=0, n_slices=protocol.n_slices, slice_thickness_mm=protocol.thickness_mm,
        slice_gap_mm=protocol.gap_mm, rotation=small_rotation(rng, 3.0),
    )
    # Slice profile: three points across the slice thickness, the middle one at the voxel centre.
    offsets = np.array([-1.0, 0.0, 1.0], np.float32) * protocol.thickness_mm / 3.0 / acquisition.spacing_mm[2]
    to_subject = np.eye(4)
    to_subject[:3, :3], to_subject[:3, 3] = pose, shift
    to_subject = (to_subject @ acquisition.affine_lps).astype(np.float32)

    def subject_points(i, j, k):
        """(x left, ant, sup) of voxel indices (broadcast to one array each)."""
        points = to_subject[:3, :3] @ np.stack(np.broadcast_arrays(i, j, k)).reshape(3, -1) + to_subject[:3, 3, None]
        return points[0], -points[1], points[2]

    shape = acquisition.shape
    corners = subject_points(*np.meshgrid(*[[-1.0, n] for n in shape], indexing="ij"))
    lo = np.array([c.min() for c in corners]) - 10.0
    step = 6.0
    bowel_shape = tuple(int(np.ceil((c.max() + 10.0 - l) / step)) + 1 for c, l in zip(corners, lo))
    bowel = ndimage.gaussian_filter(rng.standard_normal(bowel_shape).astype(np.float32), 1.0)
    bowel /= bowel.std()
    signals = scan_signals(rng, protocol)
    image = np.zeros(shape, np.float32)
    mask = np.zeros(shape, np.uint8)
    # A few slices at a time keeps memory flat at paper matrices (384 x 384 x 15: ~300 MB, not 1.2 GB).
    per_chunk = max(1, POINTS_PER_CHUNK // (shape[0] * shape[1] * len(offsets)))
    i, j = np.meshgrid(*[np.arange(n, dtype=np.float32) for n in shape[:2]], indexing="ij")
    for start in range(0, shape[2], per_chunk):
        k = np.arange(start, min(start + per_chunk, shape[2]), dtype=np.float32)
        x, ant, sup = subject_points(i[:, :, None, None], j[:, :, None, None], k[None, None, :, None] + offsets)
        value, label, depth = render_points(spine, anatomy, signals, x, ant, sup, bowel, (lo, step),
                                            profile=len(offsets))
        value *= 0.3 + 0.7 * np.exp(-depth / COIL_DEPTH_MM)  # spine array coil under the back
        image[:, :, start:start + len(k)] = value.reshape(*shape[:2], len(k), len(offsets)).mean(axis=-1)
        mask[:, :, start:start + len(k)] = label.reshape(*shape[:2], len(k), len(offsets))[..., len(offsets) // 2]
    image = ndimage.gaussian_filter(image, sigma=(0.5, 0.5, 0.0))  # in-plane point spread
    image *= bias_field(rng, shape, protocol.bias)
    sigma = protocol.noise * max(signals[t] for t in NOISE_REFERENCE_TISSUES)
    return rician_noise(rng, image, sigma).astype(np.float32), mask, acquisition.affine_lps


def write_mha(volume: np.ndarray, affine_lps: np.ndarray, path: Path) -> None:
    """``volume`` (i, j, k) as a compressed MetaImage with the geometry of ``affine_lps``."""
    image = sitk.GetImageFromArray(np.ascontiguousarray(volume.transpose(2, 1, 0)))
    spacing = np.linalg.norm(affine_lps[:3, :3], axis=0)
    image.SetSpacing([float(v) for v in spacing])
    image.SetOrigin([float(v) for v in affine_lps[:3, 3]])
    image.SetDirection([float(v) for v in (affine_lps[:3, :3] / spacing).ravel()])
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(image, str(path), useCompression=True)


# --- the cohort -----------------------------------------------------------------------------------

def plan_subjects(config: SpineCohortConfig, rng: np.random.Generator) -> list[Subject]:
    """Who is a twin of whom, who has follow-ups and when, who is graded."""
    n_pairs = int(round(config.n_subjects * config.twin_fraction / 2.0))
    n_mz = int(round(n_pairs * config.monozygotic_fraction))
    followed = rng.choice(config.n_subjects, size=config.n_followup, replace=False).tolist()
    twice = set(followed[: int(round(config.second_followup_fraction * config.n_followup))])
    followed = set(followed)
    graded = set(rng.choice(config.n_subjects, size=int(round(config.graded_fraction * config.n_subjects)),
                            replace=False).tolist())
    subjects = []
    for n in range(config.n_subjects):
        pair = n // 2 if n < 2 * n_pairs else -1
        years = [0.0]
        if n in followed:
            visits = 2 if n in twice else 1
            # Follow-ups at least half a year apart (``from_config`` makes sure the range allows it).
            while len(years) <= visits:
                when = round(float(rng.uniform(*config.followup_years)), 1)
                if all(abs(when - y) >= 0.5 for y in years[1:]):
                    years.append(when)
            years = sorted(years)
        subjects.append(Subject(
            index=n, subject_id=f"SP{n + 1:05d}", twin_pair=f"TP{pair + 1:04d}" if pair >= 0 else "",
            zygosity=("MZ" if pair < n_mz else "DZ") if pair >= 0 else "", pair_index=pair,
            years=tuple(years), graded=n in graded,
        ))
    return subjects


def _gradings_rows(scan_id: str, grades: dict[str, int]) -> list[dict]:
    """SPIDER's radiological_gradings.csv rows of one scan (IVD label n: the disc of mask label 200 + n).

    Narrowing and bulging follow the rendered height loss and bulge (grade 3 on); the phantom draws
    no Modic change, endplate lesion, spondylolisthesis or herniation.
    """
    rows = []
    for disc in sorted(GRADED_DISCS, key=lambda name: SPIDER_DISC_LABELS[name]):
        grade = grades[disc]
        row = {column: 0 for column in SPIDER_GRADINGS}
        row.update({"Patient": scan_id, "IVD label": SPIDER_DISC_LABELS[disc] - 200, "Disc narrowing": int(grade >= 3),
                    "Disc bulging": int(grade >= 3), "Pfirrman grade": grade})
        rows.append(row)
    return rows


def scan_subject(
    subject: Subject, first_scan: int, config: SpineCohortConfig, seed: int, data_dir: Path
) -> tuple[list[dict], list[dict]]:
    """Write all scans of ``subject`` (ids from ``first_scan`` on); return its scan and grading rows."""
    own = np.random.default_rng([seed, 1, subject.index])
    pair_seed = [seed, 2, subject.pair_index]
    draw = AnatomyDraw(own, np.random.default_rng(pair_seed) if subject.pair_index >= 0 else None,
                 TWIN_SHARE.get(subject.zygosity, 0.0))
    # Twins are born together: the pair's own stream (a second one from its seed) sets their age.
    age = float((np.random.default_rng(pair_seed) if subject.pair_index >= 0 else own).uniform(35.0, 70.0))
    anatomy = draw_anatomy(draw, own, age)
    noise = {disc: 0.5 * float(draw.normal()) for disc in LUMBAR_DISCS}
    progress = {disc: float(own.uniform(0.5, 1.5)) for disc in LUMBAR_DISCS}
    baseline_field = float(own.choice(config.field_strengths_t))
    followup_field = float(own.choice([f for f in config.field_strengths_t if f != baseline_field] or [baseline_field]))
    rows, gradings = [], []
    with threadpool_limits(limits=1, user_api="blas"):  # small products only contend for a busy core
        for timepoint, years in enumerate(subject.years):
            scan_id = str(first_scan + timepoint)
            scan_rng = np.random.default_rng([seed, 3, subject.index, timepoint])
            grades = disc_grades(anatomy, years, noise, progress)
            jitter = {disc: float(scan_rng.normal(0.0, 0.04)) for disc in LUMBAR_DISCS}
            # Marrow fat rises a little with age; its pattern does not move.
            aged = dataclasses.replace(anatomy, marrow_fat={name: fat + 0.02 * years / 10.0
                                                            for name, fat in anatomy.marrow_fat.items()})
            protocol = draw_protocol(scan_rng, config, baseline_field if timepoint == 0 else followup_field)
            image, mask, affine = acquire_scan(scan_rng, build_spine(aged, grades, jitter), aged, protocol)
            gain = float(scan_rng.uniform(*STORED_MAX)) / max(float(image.max()), 1e-9)
            write_mha(np.round(image * gain).astype(np.uint16), affine, data_dir / "images" / f"{scan_id}_t2.mha")
            write_mha(mask, affine, data_dir / "masks" / f"{scan_id}_t2.mha")
            if subject.graded:
                gradings += _gradings_rows(scan_id, grades)
            rows.append({
                "scan": scan_id, "subject": subject.subject_id, "twin_pair": subject.twin_pair,
                "zygosity": subject.zygosity, "timepoint": timepoint, "years_from_baseline": years,
                "field_strength_t": protocol.field_t,
            })
    return rows, gradings


def generate_spine_cohort(
    config: SpineCohortConfig, seed: int, data_dir: Path, scans_path: Path, workers: int = 1
) -> pd.DataFrame:
    """Write the cohort in SPIDER's layout under ``data_dir`` and the scan table to ``scans_path``.

    Deterministic for ``seed`` whatever ``workers`` (processes scanning subjects side by side): the
    cohort plan, every twin pair, subject and scan draw from their own seeds, and scan ids follow
    the plan's order. Returns the scan table (RAW_SCAN_COLUMNS).
    """
    data_dir, scans_path = Path(data_dir), Path(scans_path)
    subjects = plan_subjects(config, np.random.default_rng([seed, 0]))
    first_scans = np.cumsum([1] + [len(s.years) for s in subjects[:-1]]).tolist()
    arguments = [(s, first, config, seed, data_dir) for s, first in zip(subjects, first_scans)]
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(scan_subject, *zip(*arguments)))
    else:
        results = [scan_subject(*a) for a in arguments]
    rows = [row for scans, _ in results for row in scans]
    gradings = [row for _, graded in results for row in graded]
    log.info("%d subjects, %d scans, %d graded discs", len(subjects), len(rows), len(gradings))
    pd.DataFrame(gradings, columns=list(SPIDER_GRADINGS)).to_csv(data_dir / "radiological_gradings.csv", index=False)
    scans = pd.DataFrame(rows, columns=RAW_SCAN_COLUMNS)
    scans_path.parent.mkdir(parents=True, exist_ok=True)
    scans.to_csv(scans_path, sep="\t", index=False)
    return scans
