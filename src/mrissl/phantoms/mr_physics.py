"""MR tissue parameters and signal equations, shared by every phantom cohort.

Units: times in ms, flip angles in degrees, b-values in s/mm^2, ADC in 10^-3 mm^2/s, proton
density relative to pure water. The tissue table holds literature values at 1.5 T and 3 T
(brain: Wansapura 1999, Stanisz 2005, Peters 2007; fat, muscle, marrow: Gold 2004; blood: Lu 2004,
Zhang 2013; CSF/vitreous and lesions: the usual clinical ranges collected in Bojorquez 2017).
A cohort renders an image as the sum over tissues of (fraction map x ``tissue_signal``), so adding a
tissue (a new lesion type) is one entry per field strength in ``TISSUES``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import numpy as np

FIELD_STRENGTHS_T = (1.5, 3.0)
GYROMAGNETIC_MHZ_PER_T = 42.577478  # gamma-bar of 1H

Flow = Literal["static", "arterial", "venous"]
Family = Literal["SE", "IR", "GRE", "IR-GRE"]


@dataclass(frozen=True)
class Tissue:
    """Relaxation, density and diffusion of one tissue at one field strength."""

    pd: float          # proton density, water = 1
    t1: float          # ms
    t2: float          # ms
    t2star: float      # ms (no macroscopic field inhomogeneity; that is added per voxel)
    adc: float         # 10^-3 mm^2/s
    mt: float = 0.0    # fraction of signal lost under full magnetisation-transfer saturation
    fat: bool = False  # suppressed by spectral fat saturation
    flow: Flow = "static"
    cbv: float = 0.0   # blood volume fraction (DSC susceptibility contrast)
    gd_space: float = 0.0  # volume fraction gadolinium reaches (plasma, leaky or extracellular space)


def _pair(pd, t1, t2, t2s, adc, **common) -> dict[float, Tissue]:
    """One tissue at 1.5 T and 3 T: t1/t2/t2s are (1.5 T, 3 T) pairs."""
    return {
        field: Tissue(pd=pd, t1=t1[n], t2=t2[n], t2star=t2s[n], adc=adc, **common)
        for n, field in enumerate(FIELD_STRENGTHS_T)
    }


TISSUES: dict[str, dict[float, Tissue]] = {
    # brain
    "csf": _pair(1.00, (4000, 4200), (2000, 1800), (1000, 800), 3.0),
    "gm": _pair(0.80, (1100, 1400), (95, 99), (84, 60), 0.80, mt=0.3, cbv=0.05),
    "wm": _pair(0.70, (780, 900), (72, 69), (66, 50), 0.70, mt=0.4, cbv=0.025),
    # vessels and head
    "artery": _pair(0.85, (1440, 1650), (250, 150), (100, 50), 2.0, flow="arterial", cbv=1.0, gd_space=1.0),
    "vein": _pair(0.85, (1400, 1600), (130, 55), (25, 12), 2.0, flow="venous", cbv=1.0, gd_space=1.0),
    "fat": _pair(0.90, (290, 370), (165, 130), (50, 35), 0.02, fat=True, gd_space=0.02),
    "muscle": _pair(0.75, (1010, 1410), (44, 40), (30, 25), 1.5, mt=0.5, cbv=0.02, gd_space=0.1),
    "marrow": _pair(0.80, (350, 380), (100, 80), (20, 12), 0.4, mt=0.1, fat=True, gd_space=0.05),
    "bone": _pair(0.05, (250, 300), (1, 1), (0.5, 0.4), 0.1),
    "vitreous": _pair(0.98, (3500, 3800), (1100, 1000), (500, 400), 2.9),
    # spine
    "disc_nucleus": _pair(0.85, (1100, 1300), (120, 100), (60, 40), 1.8, mt=0.1),
    "disc_annulus": _pair(0.65, (800, 1000), (50, 45), (25, 15), 1.2, mt=0.4),
    "spinal_cord": _pair(0.72, (780, 900), (75, 73), (50, 40), 1.0, mt=0.35),  # mostly white matter
    # pathology
    "tumour": _pair(0.85, (1400, 1800), (150, 140), (100, 70), 1.1, mt=0.2, cbv=0.08, gd_space=0.25),
    "oedema": _pair(0.90, (1250, 1600), (170, 155), (120, 90), 1.5, mt=0.15, cbv=0.02),
    "infarct": _pair(0.85, (1150, 1500), (115, 105), (90, 65), 0.45, mt=0.25, cbv=0.01),
    "haemorrhage": _pair(0.80, (900, 1200), (40, 25), (8, 4), 0.6),  # acute: deoxyhaemoglobin
    "haemorrhage_subacute": _pair(0.85, (350, 450), (250, 200), (30, 15), 0.7),  # methaemoglobin
    # small-vessel white-matter change and demyelinating plaques: longer T1/T2, mildly raised ADC
    "wm_hyperintensity": _pair(0.78, (1050, 1250), (115, 105), (85, 62), 0.95, mt=0.3, cbv=0.02),
    "gliosis": _pair(0.92, (1700, 2100), (220, 200), (150, 120), 1.7, mt=0.1, cbv=0.01),  # chronic infarct
    # tumour cyst: proteinaceous fluid, T1 shorter than CSF (often not nulled on FLAIR); cohorts scale its T1
    "tumour_cyst": _pair(0.97, (2600, 2900), (700, 650), (350, 300), 2.8),
}

# Gadobutrol-like relaxivities in plasma, mM^-1 s^-1 (Rohrer 2005), and the DSC susceptibility
# constant: Delta R2* of a voxel per mM of blood gadolinium per unit blood volume, s^-1 mM^-1 at 1.5 T,
# scaling linearly with B0 (chosen so the first-pass grey-matter signal drop is 30-50 %).
RELAXIVITY = {1.5: (5.2, 6.1), 3.0: (5.0, 7.1)}
DSC_K_PER_MM_AT_1P5T = 44.0
FAT_SAT_RESIDUAL = 0.08
# Spin-echo signal left in flowing blood: fast arterial flow is a void, slow venous flow less so.
FLOW_VOID_RESIDUAL = {"arterial": 0.1, "venous": 0.4}


def tissue(name: str, field_t: float) -> Tissue:
    """The literature parameters of ``name`` at ``field_t`` (1.5 or 3.0)."""
    if name not in TISSUES:
        raise KeyError(f"unknown tissue {name!r}; known: {sorted(TISSUES)} (add it to mr_physics.TISSUES)")
    if field_t not in TISSUES[name]:
        raise KeyError(f"no {name} parameters at {field_t} T; tabulated fields: {FIELD_STRENGTHS_T}")
    return TISSUES[name][field_t]


def perturbed(t: Tissue, rng: np.random.Generator, relative_sd: float) -> Tissue:
    """``t`` with T1, T2, T2*, PD and ADC each scaled by an independent factor ~ N(1, relative_sd)."""
    factors = np.clip(rng.normal(1.0, relative_sd, 5), 0.5, 1.5)
    return dataclasses.replace(
        t, pd=t.pd * factors[0], t1=t.t1 * factors[1], t2=t.t2 * factors[2],
        t2star=t.t2star * factors[3], adc=t.adc * factors[4],
    )


# --- signal equations (vectorised: every argument may be a scalar or an array) -----------------

def spin_echo(pd, t1, t2, tr, te):
    """(Turbo) spin echo with a 90 degree excitation: PD (1 - exp(-TR/T1)) exp(-TE/T2)."""
    return pd * (1.0 - np.exp(-tr / t1)) * np.exp(-te / t2)


def inversion_recovery_mz(t1, tr, ti):
    """Longitudinal magnetisation at TI after an inversion, fully relaxed after each TR."""
    return 1.0 - 2.0 * np.exp(-ti / t1) + np.exp(-tr / t1)


def inversion_recovery(pd, t1, t2, tr, te, ti):
    """Magnitude inversion recovery spin echo (FLAIR, STIR, T1-FLAIR)."""
    return pd * np.abs(inversion_recovery_mz(t1, tr, ti)) * np.exp(-te / t2)


def null_inversion_time(t1, tr):
    """The TI that nulls a tissue of ``t1`` for repetition ``tr`` (T1 ln 2 when TR >> T1)."""
    return t1 * np.log(2.0 / (1.0 + np.exp(-tr / t1)))


def spoiled_gradient_echo(pd, t1, t2star, tr, te, flip_deg, fresh_fraction=0.0):
    """Spoiled GRE steady state (FLASH/SPGR/FFE); ``fresh_fraction`` of spins flow in unsaturated."""
    alpha = np.radians(flip_deg)
    e1 = np.exp(-tr / t1)
    steady = (1.0 - e1) / (1.0 - np.cos(alpha) * e1)
    mz = fresh_fraction + (1.0 - fresh_fraction) * steady
    return pd * np.sin(alpha) * mz * np.exp(-te / t2star)


def inversion_prepared_gradient_echo(pd, t1, t2star, tr, te, ti, flip_deg, readout_ms=0.0):
    """MPRAGE / IR-FSPGR / T1-TFE, single-shot model: the GRE readout centred at TI saturates the spins
    for ``readout_ms`` after TI; they recover until the next inversion one TR later."""
    recovered = 1.0 - np.exp(-np.maximum(tr - ti - readout_ms, 0.0) / t1)  # Mz just before the inversion
    mz = 1.0 - (1.0 + recovered) * np.exp(-ti / t1)
    return pd * np.sin(np.radians(flip_deg)) * np.abs(mz) * np.exp(-te / t2star)


def diffusion_attenuation(adc, b_value):
    """exp(-b ADC) with b in s/mm^2 and ADC in 10^-3 mm^2/s."""
    return np.exp(-b_value * adc * 1e-3)


def static_dephasing(field_gradient_hz_per_mm, voxel_mm, te_ms):
    """Gradient-echo signal left after a linear field gradient across a voxel: |sinc(G dz TE)|."""
    return np.abs(np.sinc(field_gradient_hz_per_mm * voxel_mm * te_ms * 1e-3))


# --- sequences --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Sequence:
    """What decides contrast: the family's signal equation and its parameters.

    SE covers spin echo, turbo spin echo and spin-echo EPI (diffusion); IR inversion-recovery spin
    echo; GRE spoiled gradient echo (also GRE-EPI, TOF, SWI); IR-GRE inversion-prepared GRE (MPRAGE).
    """

    family: Family
    field_t: float
    tr: float
    te: float
    ti: float | None = None
    flip_deg: float = 90.0
    b_value: float = 0.0
    fat_saturation: bool = False
    mt_saturation: float = 0.0     # fraction of each tissue's ``mt`` applied (MT pulse on TOF)
    arterial_inflow: float = 0.0   # fresh fraction of arterial spins per TR (GRE only; TOF ~1)
    venous_inflow: float = 0.0     # 0 when a saturation band kills venous inflow
    gd_blood_mm: float = 0.0       # blood gadolinium concentration (steady state or bolus)
    venous_contrast: float = 1.0   # extra venous signal factor (SWI phase mask < 1)
    readout_ms: float = 0.0        # IR-GRE: duration of the readout train after TI

    @property
    def gradient_echo(self) -> bool:
        """True when static field inhomogeneity is not refocused (T2* weighting)."""
        return self.family in ("GRE", "IR-GRE")


def with_gadolinium(t: Tissue, blood_mm: float, field_t: float) -> Tissue:
    """Relaxation shortened by gadolinium: T1/T2 where it reaches, T2* also by blood-volume susceptibility."""
    if blood_mm <= 0:
        return t
    r1, r2 = RELAXIVITY[field_t]
    local = blood_mm * t.gd_space
    dr2star = DSC_K_PER_MM_AT_1P5T * field_t / 1.5 * t.cbv * blood_mm
    return dataclasses.replace(
        t,
        t1=1.0 / (1.0 / t.t1 + r1 * local * 1e-3),
        t2=1.0 / (1.0 / t.t2 + r2 * local * 1e-3),
        t2star=1.0 / (1.0 / t.t2star + (r2 * local + dr2star) * 1e-3),
    )


def tissue_signal(t: Tissue, seq: Sequence) -> float:
    """The noise-free signal of a voxel full of tissue ``t`` (before static dephasing and coil bias)."""
    t = with_gadolinium(t, seq.gd_blood_mm, seq.field_t)
    if seq.family == "SE":
        signal = spin_echo(t.pd, t.t1, t.t2, seq.tr, seq.te)
    elif seq.family == "IR":
        signal = inversion_recovery(t.pd, t.t1, t.t2, seq.tr, seq.te, seq.ti)
    elif seq.family == "GRE":
        fresh = {"arterial": seq.arterial_inflow, "venous": seq.venous_inflow}.get(t.flow, 0.0)
        signal = spoiled_gradient_echo(t.pd, t.t1, t.t2star, seq.tr, seq.te, seq.flip_deg, fresh)
    elif seq.family == "IR-GRE":
        signal = inversion_prepared_gradient_echo(t.pd, t.t1, t.t2star, seq.tr, seq.te, seq.ti, seq.flip_deg,
                                                  seq.readout_ms)
    else:
        raise ValueError(f"unknown sequence family {seq.family!r}; use SE, IR, GRE or IR-GRE")
    signal *= diffusion_attenuation(t.adc, seq.b_value)
    signal *= 1.0 - seq.mt_saturation * t.mt
    if seq.fat_saturation and t.fat:
        signal *= FAT_SAT_RESIDUAL
    if t.flow != "static" and seq.family in ("SE", "IR"):
        # Flowing blood leaves the slice between excitation and refocusing: a flow void.
        signal *= FLOW_VOID_RESIDUAL[t.flow]
    if t.flow == "venous":
        signal *= seq.venous_contrast
    return float(signal)
