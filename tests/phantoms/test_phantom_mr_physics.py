"""Signal equations against hand-computed values, and the contrast each sequence family must give."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mrissl.phantoms import mr_physics as mr


def test_spin_echo_hand_value():
    # PD (1 - exp(-TR/T1)) exp(-TE/T2) = 0.8 (1 - e^-0.5) e^-0.2
    assert mr.spin_echo(0.8, 1000.0, 100.0, tr=500.0, te=20.0) == pytest.approx(0.8 * 0.3934693 * 0.8187308, rel=1e-6)


def test_inversion_recovery_nulls_at_t1_ln2_for_long_tr():
    t1 = 4000.0
    assert mr.null_inversion_time(t1, 1e9) == pytest.approx(t1 * math.log(2.0))
    at_null = mr.inversion_recovery(1.0, t1, 2000.0, tr=1e9, te=100.0, ti=t1 * math.log(2.0))
    assert at_null == pytest.approx(0.0, abs=1e-12)
    # With a finite TR the null moves earlier, and the magnitude is zero exactly there.
    ti = mr.null_inversion_time(t1, 9000.0)
    assert ti < t1 * math.log(2.0)
    assert mr.inversion_recovery(1.0, t1, 2000.0, tr=9000.0, te=100.0, ti=ti) == pytest.approx(0.0, abs=1e-12)
    # A hand value away from the null: |1 - 2 e^-0.25 + e^-2.5| e^-0.05
    expected = abs(1 - 2 * math.exp(-0.25) + math.exp(-2.5)) * math.exp(-0.05)
    assert mr.inversion_recovery(1.0, t1, 2000.0, tr=10000.0, te=100.0, ti=1000.0) == pytest.approx(expected)


def test_spoiled_gradient_echo_hand_values_and_ernst_angle():
    e1 = math.exp(-10.0 / 1000.0)
    expected = math.sin(math.radians(10)) * (1 - e1) / (1 - math.cos(math.radians(10)) * e1) * math.exp(-5.0 / 50.0)
    assert mr.spoiled_gradient_echo(1.0, 1000.0, 50.0, tr=10.0, te=5.0, flip_deg=10.0) == pytest.approx(expected)
    flips = np.linspace(1.0, 60.0, 2000)
    signal = mr.spoiled_gradient_echo(1.0, 1000.0, 50.0, tr=10.0, te=0.0, flip_deg=flips)
    assert flips[np.argmax(signal)] == pytest.approx(math.degrees(math.acos(e1)), abs=0.1)
    # Fully fresh (inflowing) spins are not saturated: PD sin(alpha) exp(-TE/T2*).
    fresh = mr.spoiled_gradient_echo(1.0, 1000.0, 50.0, tr=10.0, te=5.0, flip_deg=20.0, fresh_fraction=1.0)
    assert fresh == pytest.approx(math.sin(math.radians(20)) * math.exp(-0.1))


def test_inversion_prepared_gradient_echo_reduces_to_inversion_recovery():
    # No readout saturation: the IR longitudinal magnetisation, read by a small flip with T2* decay.
    expected = math.sin(math.radians(9)) * abs(mr.inversion_recovery_mz(900.0, 2300.0, 900.0)) * math.exp(-3.0 / 50.0)
    assert mr.inversion_prepared_gradient_echo(1.0, 900.0, 50.0, 2300.0, 3.0, 900.0, 9.0) == pytest.approx(expected)
    # A readout lasting until the next inversion leaves nothing to invert: Mz(TI) = 1 - exp(-TI/T1).
    assert mr.inversion_prepared_gradient_echo(1.0, 900.0, 50.0, 2300.0, 0.0, 900.0, 90.0, readout_ms=1400.0) == \
        pytest.approx(1.0 - math.exp(-1.0))


def test_diffusion_and_dephasing():
    assert mr.diffusion_attenuation(0.7, 1000.0) == pytest.approx(math.exp(-0.7))
    assert mr.diffusion_attenuation(3.0, 0.0) == 1.0
    assert mr.static_dephasing(0.0, 5.0, 30.0) == 1.0
    assert mr.static_dephasing(10.0, 5.0, 20.0) == pytest.approx(0.0, abs=1e-12)  # G dz TE = 1 cycle


def test_tissue_table_covers_both_fields_and_rejects_unknowns():
    for name in ["csf", "gm", "wm", "fat", "artery", "vein", "muscle", "marrow", "disc_nucleus", "disc_annulus",
                 "tumour", "oedema", "infarct", "haemorrhage"]:
        low, high = mr.tissue(name, 1.5), mr.tissue(name, 3.0)
        assert low.t1 > 0 and high.t1 > 0 and low.pd > 0
    # T1 lengthens with field strength for brain tissue (literature).
    assert mr.tissue("wm", 3.0).t1 > mr.tissue("wm", 1.5).t1
    with pytest.raises(KeyError, match="unknown tissue"):
        mr.tissue("unobtainium", 1.5)
    with pytest.raises(KeyError, match="no csf parameters at 7.0 T"):
        mr.tissue("csf", 7.0)


def signals(seq: mr.Sequence, *names: str) -> list[float]:
    return [mr.tissue_signal(mr.tissue(n, seq.field_t), seq) for n in names]


@pytest.mark.parametrize("field_t", [1.5, 3.0])
def test_tissue_ordering_per_contrast(field_t):
    # T1 weighting (spin echo and MPRAGE): CSF darker than GM darker than WM.
    for seq in [mr.Sequence("SE", field_t, tr=500, te=15),
                mr.Sequence("IR-GRE", field_t, tr=2300, te=3, ti=900, flip_deg=9, readout_ms=600)]:
        csf, gm, wm = signals(seq, "csf", "gm", "wm")
        assert csf < gm < wm
    # T2 weighting: CSF brighter than GM brighter than WM.
    csf, gm, wm = signals(mr.Sequence("SE", field_t, tr=4000, te=100), "csf", "gm", "wm")
    assert csf > gm > wm
    # FLAIR at the CSF null: CSF nulled, GM still brighter than WM.
    tr = 9000.0
    null = float(mr.null_inversion_time(mr.tissue("csf", field_t).t1, tr))
    flair = mr.Sequence("IR", field_t, tr=tr, te=120, ti=null)
    csf, gm, wm = signals(flair, "csf", "gm", "wm")
    assert csf < 1e-6 and gm > wm
    # Trace-weighted b=1000: CSF dark; ADC itself: CSF highest.
    csf, gm = signals(mr.Sequence("SE", field_t, tr=5000, te=80, b_value=1000), "csf", "gm")
    assert csf < gm
    assert mr.tissue("csf", field_t).adc > mr.tissue("gm", field_t).adc > mr.tissue("wm", field_t).adc
    # TOF: inflowing arterial blood far above saturated, MT-suppressed brain.
    tof = mr.Sequence("GRE", field_t, tr=25, te=4, flip_deg=20, mt_saturation=0.8, arterial_inflow=1.0)
    artery, gm, wm, csf = signals(tof, "artery", "gm", "wm", "csf")
    assert artery > 4 * max(gm, wm, csf)
    # Spin echo: flowing blood is a flow void; T2*-weighted GRE: venous blood dark.
    artery, gm = signals(mr.Sequence("SE", field_t, tr=4000, te=100), "artery", "gm")
    assert artery < gm
    vein, gm = signals(mr.Sequence("GRE", field_t, tr=600, te=25, flip_deg=20), "vein", "gm")
    assert vein < 0.6 * gm
    # Gadolinium: blood brighter on T1, and a first-pass bolus darkens grey matter on DSC.
    pre, post = (signals(mr.Sequence("SE", field_t, tr=500, te=15, gd_blood_mm=c), "vein")[0] for c in (0.0, 0.5))
    assert post > 2 * pre
    base, bolus = (signals(mr.Sequence("GRE", field_t, tr=1500, te=30, flip_deg=60, gd_blood_mm=c), "gm")[0]
                   for c in (0.0, 6.0))
    assert 0.3 < bolus / base < 0.85


def test_fat_saturation_and_unknown_family():
    plain, suppressed = (signals(mr.Sequence("SE", 1.5, tr=500, te=15, fat_saturation=fs), "fat")[0]
                         for fs in (False, True))
    assert suppressed == pytest.approx(plain * mr.FAT_SAT_RESIDUAL)
    with pytest.raises(ValueError, match="unknown sequence family"):
        mr.tissue_signal(mr.tissue("gm", 1.5), mr.Sequence("XX", 1.5, tr=1, te=1))  # type: ignore[arg-type]


def test_perturbed_is_reproducible_and_bounded():
    base = mr.tissue("gm", 3.0)
    a = mr.perturbed(base, np.random.default_rng(3), 0.05)
    b = mr.perturbed(base, np.random.default_rng(3), 0.05)
    assert a == b and a != base
    assert 0.5 * base.t1 <= a.t1 <= 1.5 * base.t1
