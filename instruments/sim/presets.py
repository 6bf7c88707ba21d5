"""Simulated devices by name and seed: same name and seed, same data.

- ``ag-nanowire``: a single Ag nanowire with a nanogap (Pt contacts), a few-atom
  filament. Two growth routes: a high-field hop that bridges the empty gap from
  ~1 V (the field is concentrated there) and, above ~1.35 V on a formed filament,
  fills the constriction at once; and slow low-field growth from ~0.1 V, limited by
  the supply of atoms to the constriction (~0.025 atoms/s per open channel). So a
  0–20 µA current sweep (the gap bridges at the voltage limit) climbs a 1–3 G0
  staircase over its ~200 s, while a SET sweep is compliance-limited at
  G ≈ I_cc/1.35 V: 100 µA holds one atom at 1.29 V and lands on 1 G0, 200 µA on
  2 G0, 400 µA fills the 2–3 atom constriction (LRS). Known departure: a slow SET
  (minutes, e.g. 2.6 mV/s) gives the supply time to add atoms, so 100 µA then ends
  on 2–3 G0 as well.
- ``bfo``: a graphene/BiFeO3/FTO stack; bipolar 0→3→0→−3→0 V sweeps with 2–10 mA
  compliance climb to ~25 G0 (measured, R_s included) and reset to HRS.
- ``ohmic``: a plain resistor (``resistance=`` in ohm, ``noise=`` relative).
- ``ag-nanowire-fresh``, ``bfo-fresh``: the same devices before breakdown / forming.

Both memristors relax what a pulse shorter than 2 ms added (a volatile level), and the
bfo anneals under a DC SET above 4 mA, after which RESET pulses step it down slowly.
"""
from __future__ import annotations

from dataclasses import fields

from labqc.instruments.sim.device import Device, Resistor
from labqc.instruments.sim.memristor import Memristor, MemristorParams

#: ``-fresh``: the same device as it comes from fabrication, before breakdown (the Ag
#: nanowire, ~1 kohm, opens a nanogap at ~5.17 V) or forming (the BFO stack, ~100 Mohm,
#: forms at ~4 V); after that it behaves as its formed preset.
FRESH = {"ag-nanowire-fresh": "ag-nanowire", "bfo-fresh": "bfo"}
PRESETS = ("ag-nanowire", "bfo", "ohmic", *FRESH)

#: Each preset's departures from the defaults of :class:`MemristorParams`.
PRESET_PARAMS: dict[str, dict[str, float]] = {
    "ag-nanowire": dict(
        n_max=3,  # a nanogap bridged by a few atoms: LRS near 2-3 G0
        dx=1.0,  # monovalent Ag: one atom opens one channel, integer plateaus
        phi_open=0.6, phi_c=0.4,
        r_s=300.0,  # contacts and the rest of the wire
        g_gap=2e-7,  # nanogap tunnelling, ~5 Mohm
        nu_g=1e13, e_a=0.88, q_field=0.5,  # growth from ~0.1 V: 0-20 uA current sweeps climb 1-3 G0 ...
        k_supply=0.025,  # ... slowly: atoms reach the constriction at ~0.025/s per open channel
        e_high=1.79, q_high=0.75,  # the high-field hop, ~1/s at 1.37 V: 100 uA stalls on one atom at 1.29 V
        e_bridge=1.52,  # the same hop across the empty gap, ~1/s at 1.0 V (the field is concentrated there)
        nu_r=1e13, e_r=0.85, q_rupture=0.3,  # negative sweeps to ~ -0.5 V dissolve the bridge
        e_d=0.87, de_atom=0.08,  # at rest 1 G0 lives ~15 min, 3 G0 days
        r_th=1e5,
        rtn_count=1, rtn_amp=0.08,
        k_volatile=2.0,  # what a pulse shorter than 2 ms bridges relaxes atom by atom within ~1 s
        v_form=5.17,  # breakdown of the pristine wire into a nanogap
        g_pristine=1e-3,  # an intact nanowire: ~1 kohm
    ),
    "bfo": dict(
        n_max=50,  # a wide filament; with R_s it reads up to ~25 G0, where transport turns diffusive
        dx=0.5,  # half-open partial channel: (n + ½) plateaus
        alpha=25.0, phi_open=1.5,  # channels stay open up to ~3 V on the filament
        phi_c=0.15,  # the partial channel is half open from ~0.3 V: (n + ½) plateaus under bias
        r_s=250.0,  # graphene/FTO electrodes and the rest of the BFO layer
        g_gap=1e-6,  # HRS ~0.013 G0 (1 Mohm)
        nu_g=1e13, e_a=1.045, q_field=0.35,  # SET from ~1 V at 1 V/s; ~6 channels per 1.5 V, 5 ms pulse
        nu_r=1e13, e_r=0.815, q_rupture=0.08,  # RESET pulses of -1.5 V, 5 ms remove ~20 % ...
        rupture_order=2.0,  # ... of a wide filament, a few % of a thin one: slow steps at the end
        consolidated=0.02,  # a DC SET at > 4 mA anneals the filament: a 500-pulse RESET train then
        # steps down gradually (I_500/I_1 ~ 0.2-0.3), while atoms LTP pulses just added go first
        pulse_spread=0.045,  # each pulse rearranges the contact: a 5-10 % pulse-to-pulse lag spread
        k_volatile=5.0,  # a pulse shorter than 2 ms leaves a volatile level that relaxes within ~1 s
        e_d=0.95, de_atom=0.05,  # retention beyond 6e3 s from a few G0 up
        r_th=5e3,  # a vertical stack sinks heat well
        rtn_count=2, rtn_amp=0.1,
        v_form=4.0, g_pristine=1e-8,
    ),
}


def make_device(preset: str = "ohmic", seed: int = 0, **params: float) -> Device:
    """A fresh device of the named preset; ``params`` override the preset's parameters
    (any :class:`MemristorParams` field; for ``ohmic``: ``resistance``, ``noise``)."""
    if preset == "ohmic":
        return Resistor(seed=seed, **params)
    if preset in FRESH:
        preset, params = FRESH[preset], {"pristine": True, **params}
    if preset not in PRESET_PARAMS:
        raise ValueError(f"unknown simulated device {preset!r}; choose one of {', '.join(PRESETS)}")
    known = {f.name for f in fields(MemristorParams)}
    state = {k: params.pop(k) for k in ("n_channels", "x") if k in params}
    unknown = sorted(set(params) - known)
    if unknown:
        raise ValueError(f"unknown parameter(s) for {preset!r}: {', '.join(unknown)}")
    merged = {**PRESET_PARAMS[preset], **params}
    return Memristor(MemristorParams(**merged), seed=seed, **state)
