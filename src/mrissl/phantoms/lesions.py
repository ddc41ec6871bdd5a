"""Brain lesions for the pathology cohort: where they sit, what tissue they are, how they evolve.

A lesion is one or more tissue fraction maps on the template head grid (MNI mm, 2 mm voxels),
added to the head with ``HeadModel.with_tissue`` so every sequence sees it through its own signal
equation: an acute infarct (restricted ADC) is bright on DWI b1000, a haematoma (deoxyhaemoglobin,
short T2*, plus a susceptibility field around it) dark and blooming on T2*, a tumour's oedema
bright on FLAIR. Sites are (name, MNI centre of the right-hemisphere site, radius range mm);
x is mirrored for the left side (RAS: x < 0 is left).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from mrissl.phantoms.anatomy import GRID_LO, GRID_SHAPE, VOXEL_MM, HeadModel, grid_points

# Site name, right-sided MNI centre (mm), radius range (mm).
Site = tuple[str, tuple[float, float, float], tuple[float, float]]

INFARCT_SITES: list[Site] = [
    ("lentiform nucleus", (22, 2, 0), (5, 9)),
    ("corona radiata", (26, -12, 26), (5, 9)),
    ("thalamus", (12, -18, 6), (5, 8)),
    ("MCA territory (frontoparietal cortex)", (44, -8, 22), (14, 22)),
    ("occipital lobe (PCA territory)", (16, -82, 6), (10, 16)),
    ("cerebellar hemisphere", (24, -64, -34), (7, 13)),
    ("pons", (5, -28, -32), (4, 6)),
]
GLIOMA_SITES: list[Site] = [
    ("frontal lobe", (30, 30, 22), (9, 18)),
    ("temporal lobe", (44, -14, -12), (9, 16)),
    ("parietal lobe", (34, -50, 38), (9, 16)),
]
MENINGIOMA_SITES: list[Site] = [  # extra-axial, against the inner table or the falx
    ("frontal convexity", (38, 30, 38), (8, 16)),
    ("parafalcine region", (6, -20, 52), (8, 14)),
    ("sphenoid wing", (36, 12, -24), (8, 14)),
]
HAEMORRHAGE_SITES: list[Site] = [
    ("putamen", (24, 2, 2), (7, 15)),
    ("thalamus", (12, -18, 6), (6, 11)),
    ("parietal lobe", (36, -46, 34), (9, 17)),
    ("cerebellar hemisphere", (22, -62, -32), (7, 12)),
]
CYST_SITES: list[Site] = [("middle cranial fossa", (40, 10, -30), (10, 18))]
PITUITARY_MNI = (0.0, 2.0, -30.0)
PERIVENTRICULAR_MNI = [(16, 14, 16), (16, -34, 14), (24, -10, 26)]  # frontal horn, trigone, body

# What each lesion tissue, and the finding it makes, becomes at a follow-up weeks later.
EVOLUTION = {"infarct": "gliosis", "haemorrhage": "haemorrhage_subacute"}
EVOLVED_KIND = {"acute_infarct": "chronic_infarct", "acute_haemorrhage": "subacute_haemorrhage"}


@dataclass(frozen=True)
class Lesion:
    """One finding: its kind (``FINDINGS`` of the report writer), its site, and the tissue maps it adds."""

    kind: str
    site: str
    side: str                                       # left | right | midline | bilateral
    tissues: tuple[tuple[str, np.ndarray], ...]     # (tissue, fraction), applied in this order
    susceptibility_ppm: float = 0.0                 # blood products: field perturbation around the lesion
    center_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)  # of the main mass (MNI mm): where blood
    radius_mm: float = 0.0                                   # products perturb the field

    def evolved(self) -> Lesion:
        """The lesion at a follow-up: acute infarct -> gliosis, acute -> subacute haemorrhage."""
        kind = EVOLVED_KIND.get(self.kind, self.kind)
        tissues = tuple((EVOLUTION.get(name, name), fraction) for name, fraction in self.tissues)
        return dataclasses.replace(self, kind=kind, tissues=tissues)

    @property
    def location(self) -> str:
        return self.site if self.side in ("midline", "bilateral") else f"{self.side} {self.site}"


def blob(center, radii, rng: np.random.Generator, irregularity: float = 0.15) -> np.ndarray:
    """Soft fraction of a randomly oriented ellipsoid with a lobulated surface, on the head grid.

    Computed only in the box that can hold it (plus a voxel of partial volume), zero elsewhere.
    """
    rotation = Rotation.random(random_state=rng).as_matrix()
    harmonics = (rng.normal(size=(3, 3)), rng.uniform(2, 4, 3), rng.uniform(0, 2 * np.pi, 3))
    out = np.zeros(GRID_SHAPE, np.float32)
    reach = float(max(radii)) * (1.0 + irregularity) + 2 * VOXEL_MM
    lo = np.clip(np.floor((np.asarray(center) - reach - GRID_LO) / VOXEL_MM), 0, GRID_SHAPE).astype(int)
    hi = np.clip(np.ceil((np.asarray(center) + reach - GRID_LO) / VOXEL_MM) + 1, 0, GRID_SHAPE).astype(int)
    if np.any(hi <= lo):
        return out
    box = tuple(slice(a, b) for a, b in zip(lo, hi))
    axes = [GRID_LO[k] + VOXEL_MM * np.arange(lo[k], hi[k]) - center[k] for k in range(3)]
    d = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)
    local = (d @ rotation) / np.asarray(radii, float)  # ellipsoid axes = the rotation's columns
    r = np.linalg.norm(local, axis=-1) + 1e-6
    # Lobulation: a few low-order angular harmonics modulate the radius.
    bumps = np.ones_like(r)
    for direction, frequency, phase in zip(*harmonics):
        cosine = (local @ (direction / np.linalg.norm(direction))) / r
        bumps += irregularity / 3.0 * np.cos(frequency * np.arccos(np.clip(cosine, -1, 1)) + phase)
    edge = (bumps - r) * float(min(radii)) / VOXEL_MM + 0.5  # a one-voxel ramp: partial volume
    out[box] = np.clip(edge, 0.0, 1.0)
    return out


def _fraction(head: HeadModel, *names: str) -> np.ndarray:
    return np.clip(sum(head.fractions[head.tissues.index(n)] for n in names), 0.0, 1.0)


def _place(rng: np.random.Generator, sites: list[Site], side: str | None = None):
    """A site, its side, a jittered MNI centre and a radius."""
    name, (x, y, z), (r_lo, r_hi) = sites[int(rng.integers(len(sites)))]
    side = side or str(rng.choice(["left", "right"]))
    center = np.array([-x if side == "left" else x, y, z], float) + rng.normal(0.0, 3.0, 3)
    return name, side, center, float(rng.uniform(r_lo, r_hi))


def _radii(rng: np.random.Generator, radius: float) -> np.ndarray:
    return radius * rng.uniform(0.75, 1.25, 3)


def infarct(rng: np.random.Generator, head: HeadModel, acute: bool) -> Lesion:
    """An arterial-territory or lacunar infarct in the parenchyma: acute (restricted) or chronic (gliosis)."""
    site, side, center, radius = _place(rng, INFARCT_SITES)
    fraction = blob(center, _radii(rng, radius), rng, 0.25) * _fraction(head, "gm", "wm")
    tissue = "infarct" if acute else "gliosis"
    return Lesion("acute_infarct" if acute else "chronic_infarct", site, side, ((tissue, fraction),),
                  center_mm=tuple(center), radius_mm=radius)


def glioma(rng: np.random.Generator, head: HeadModel) -> Lesion:
    """An intra-axial tumour with vasogenic oedema spreading along the white matter."""
    site, side, center, radius = _place(rng, GLIOMA_SITES)
    parenchyma = _fraction(head, "gm", "wm")
    oedema = blob(center, _radii(rng, radius * rng.uniform(1.6, 2.3)), rng, 0.3) * _fraction(head, "wm")
    core = blob(center, _radii(rng, radius), rng, 0.2) * parenchyma
    return Lesion("glioma", site, side, (("oedema", oedema), ("tumour", core)), center_mm=tuple(center),
                  radius_mm=radius)


def meningioma(rng: np.random.Generator, head: HeadModel) -> Lesion:
    """An extra-axial dural-based tumour: displaces CSF and cortex, little oedema."""
    site, side, center, radius = _place(rng, MENINGIOMA_SITES)
    core = blob(center, _radii(rng, radius), rng, 0.1) * _fraction(head, "csf", "gm", "wm")
    return Lesion("meningioma", site, side, (("tumour", core),), center_mm=tuple(center), radius_mm=radius)


def pituitary_adenoma(rng: np.random.Generator, head: HeadModel) -> Lesion:
    center = np.array(PITUITARY_MNI) + rng.normal(0.0, 1.5, 3)
    radius = float(rng.uniform(6, 10))
    radii = radius * np.array([1.0, 0.9, rng.uniform(1.0, 1.5)])  # grows upwards (suprasellar)
    return Lesion("pituitary_adenoma", "sella", "midline", (("tumour", blob(center, radii, rng, 0.1)),),
                  center_mm=tuple(center), radius_mm=radius)


def metastases(rng: np.random.Generator, head: HeadModel) -> Lesion:
    """Two to four small enhancing lesions at the grey-white junction, each with oedema."""
    parenchyma = _fraction(head, "gm", "wm")
    oedema = np.zeros_like(parenchyma)
    core = np.zeros_like(parenchyma)
    sites = GLIOMA_SITES + INFARCT_SITES[3:6]
    placed = [_place(rng, sites) for _ in range(int(rng.integers(2, 5)))]
    for _, _, center, radius in placed:
        r = radius * 0.45
        oedema = np.maximum(oedema, blob(center, _radii(rng, r * 2.2), rng, 0.3))
        core = np.maximum(core, blob(center, _radii(rng, r), rng, 0.1))
    site, side, center, radius = max(placed, key=lambda p: p[3])
    return Lesion("metastases", site, side, (("oedema", oedema * _fraction(head, "wm")), ("tumour", core * parenchyma)),
                  center_mm=tuple(center), radius_mm=radius * 0.45)


def haemorrhage(rng: np.random.Generator, head: HeadModel) -> Lesion:
    """An intraparenchymal haematoma (deoxyhaemoglobin) with a thin rim of oedema."""
    site, side, center, radius = _place(rng, HAEMORRHAGE_SITES)
    parenchyma = _fraction(head, "gm", "wm")
    radii = _radii(rng, radius)
    rim = blob(center, radii * 1.35, rng, 0.2) * parenchyma
    clot = blob(center, radii, rng, 0.15) * parenchyma
    return Lesion("acute_haemorrhage", site, side, (("oedema", rim), ("haemorrhage", clot)),
                  susceptibility_ppm=float(rng.uniform(0.3, 0.8)), center_mm=tuple(center), radius_mm=radius)


def demyelination(rng: np.random.Generator, head: HeadModel) -> Lesion:
    """Five to twelve ovoid periventricular and juxtacortical white-matter plaques."""
    plaques = np.zeros(head.fractions.shape[1:], np.float32)
    for _ in range(int(rng.integers(5, 13))):
        x, y, z = PERIVENTRICULAR_MNI[int(rng.integers(len(PERIVENTRICULAR_MNI)))]
        center = np.array([x * rng.choice([-1, 1]), y, z], float) + rng.normal(0.0, 6.0, 3)
        plaques = np.maximum(plaques, blob(center, rng.uniform(2.5, 5.0) * np.array([1.0, 1.0, 1.8]), rng, 0.1))
    return Lesion("demyelination", "periventricular white matter", "bilateral",
                  (("wm_hyperintensity", plaques * _fraction(head, "wm")),))


def arachnoid_cyst(rng: np.random.Generator, head: HeadModel) -> Lesion:
    """A CSF-filled extra-axial cyst (the same signal as CSF on every sequence)."""
    site, side, center, radius = _place(rng, CYST_SITES)
    cyst = blob(center, _radii(rng, radius), rng, 0.1) * _fraction(head, "csf", "gm", "wm")
    return Lesion("arachnoid_cyst", site, side, (("csf", cyst),), center_mm=tuple(center), radius_mm=radius)


def small_vessel_disease(rng: np.random.Generator, head: HeadModel) -> Lesion:
    """Incidental Fazekas grade I change: thin periventricular caps and a few punctate foci."""
    changes = np.zeros(head.fractions.shape[1:], np.float32)
    for x, y, z in PERIVENTRICULAR_MNI[:2]:
        for s in (-1, 1):
            center = np.array([s * x, y, z], float) + rng.normal(0.0, 2.0, 3)
            changes = np.maximum(changes, 0.7 * blob(center, np.array([3.0, 5.0, 3.0]), rng, 0.1))
    for _ in range(int(rng.integers(2, 6))):
        center = np.array([rng.choice([-1, 1]) * rng.uniform(15, 30), rng.uniform(-40, 30), rng.uniform(10, 40)])
        changes = np.maximum(changes, blob(center, np.full(3, rng.uniform(1.5, 3.0)), rng, 0.0))
    return Lesion("small_vessel_disease", "periventricular white matter", "bilateral",
                  (("wm_hyperintensity", changes * _fraction(head, "wm")),))


LESIONS_OF_CLASS = {
    "infarct": [lambda rng, head: infarct(rng, head, acute=rng.random() < 0.75)],
    "tumour": [glioma, glioma, meningioma, pituitary_adenoma, metastases],
    "haemorrhage": [haemorrhage],
    "other": [demyelination, demyelination, arachnoid_cyst],
    "normal": [],
}


def class_lesion(rng: np.random.Generator, head: HeadModel, label: str) -> Lesion | None:
    """The main finding of a study of class ``label`` (None for a normal study)."""
    makers = LESIONS_OF_CLASS[label]
    return makers[int(rng.integers(len(makers)))](rng, head) if makers else None


def with_lesions(head: HeadModel, lesions: list[Lesion]) -> HeadModel:
    """``head`` with each lesion's tissues and, for blood products, their susceptibility field.

    Around a sphere of radius R and susceptibility difference chi the field falls as (R/r)^3, so
    its gradient as chi/R (R/r)^4: the dephasing that makes a haematoma bloom on T2*.
    """
    for lesion in lesions:
        for tissue, fraction in lesion.tissues:
            head = head.with_tissue(tissue, fraction)
        if lesion.susceptibility_ppm:
            x, y, z = grid_points()
            c = lesion.center_mm
            r = np.sqrt((x - c[0]) ** 2 + (y - c[1]) ** 2 + (z - c[2]) ** 2)
            radius = lesion.radius_mm
            extra = lesion.susceptibility_ppm / radius * np.minimum(1.0, (radius / np.maximum(r, 1e-3)) ** 4)
            head = dataclasses.replace(
                head, field_gradient_ppm_per_mm=(head.field_gradient_ppm_per_mm + extra).astype(np.float32)
            )
    return head
