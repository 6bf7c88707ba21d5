"""Physics the new experiments need from the simulator: breakdown of a fresh Ag nanowire
under the paper's slow ramp, forming of a fresh BFO stack, and a volatile level that
relaxes after a short pulse. Numbers from science.md (breakdown at ~17 mV/s, e.g. at
5.17 V; a 100 uA compliance lands the Ag device on 1 G0)."""
import numpy as np
import pytest

from labqc.instruments.sim.device import Drive
from labqc.instruments.sim.presets import PRESETS, make_device
from labqc.units import G0


def test_fresh_presets_are_listed_and_start_unformed():
    for name in ("ag-nanowire-fresh", "bfo-fresh"):
        assert name in PRESETS
        assert not make_device(name, 0).state.formed
    assert make_device("ag-nanowire", 0).state.formed


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fresh_ag_nanowire_breaks_down_near_5_v_under_a_17_mv_per_s_ramp(seed):
    dev = make_device("ag-nanowire-fresh", seed)
    v = np.arange(0.017, 6.0, 0.017)  # 17 mV steps of 1 s: the paper's ~17 mV/s
    m = dev.apply(Drive("V", v, 1.0, 0.1, 50e-3))
    g = m.i / v
    assert np.median(g[:100]) > 5e-4  # an intact wire conducts (about 1 kohm)
    drop = np.flatnonzero(m.i[1:] < 0.5 * m.i[:-1])
    assert drop.size, "the current never dropped"
    assert 4.8 < v[drop[0] + 1] < 5.5  # near 5.17 V
    assert dev.state.formed


def test_fresh_bfo_forms_with_a_conductance_jump_and_not_below_its_forming_voltage():
    dev = make_device("bfo-fresh", 0)
    low = dev.apply(Drive("V", np.linspace(0.01, 3.5, 350), 0.01, 5e-3, 1e-3))
    assert not dev.state.formed and np.max(np.abs(low.i)) < 1e-6  # ~100 Mohm: nA at 3.5 V
    v = np.linspace(3.51, 5.0, 150)
    m = dev.apply(Drive("V", v, 0.01, 5e-3, 1e-3))
    assert dev.state.formed
    g = m.i / v
    jump = np.flatnonzero(g[1:] > 10 * g[:-1])
    assert jump.size and 3.9 < v[jump[0] + 1] < 4.5


@pytest.mark.parametrize("preset, amplitude", [("ag-nanowire", 1.6), ("bfo", 2.0)])
def test_a_short_pulse_leaves_a_volatile_level_that_relaxes_then_stays(preset, amplitude):
    relaxed = 0
    for seed in range(3):
        dev = make_device(preset, seed)
        dev.apply(Drive("V", [amplitude], 1e-3, 1e-4, 1e-3))  # one 1 ms SET pulse
        m = dev.apply(Drive("V", np.full(400, 0.1), 0.01, 5e-3, 1e-3))  # 4 s of reads
        g = m.i / m.v / G0
        assert g[0] > 0.8  # the pulse set a level ...
        if np.median(g[-50:]) < g[0] - 0.7:  # ... that relaxed by at least one step ...
            relaxed += 1
        assert np.ptp(g[-50:]) < 0.5  # ... and is stable at the end
    assert relaxed >= 2


def test_a_5_ms_pulse_level_is_not_volatile():
    dev = make_device("ag-nanowire", 0)
    dev.apply(Drive("V", [1.6], 5e-3, 1e-4, 1e-3))
    first = dev.n_channels
    dev.apply(Drive("V", np.full(100, 0.1), 0.01, 5e-3, 1e-3))
    assert first >= 1 and dev.n_channels == first
