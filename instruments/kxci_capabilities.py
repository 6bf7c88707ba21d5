"""What a 4200A-SCS channel can do, and the one place every request is checked against it
before anything is sent: the SMU's limits, where a pulse train can run with its compliance
honoured (:mod:`labqc.instruments.kxci_route`), and the PMU's range, period and samples.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from labqc.instruments import kxci_route as route
from labqc.instruments import kxci_sarb as sarb
from labqc.instruments.kxci_pulses import (PMU_CURRENT_RANGES, PMU_MAX_BURST, PMU_MAX_PERIOD, PMU_MAX_SAMPLES,
                                     PMU_MAX_V, PMU_PAGE, PMU_RANGES_NO_RPM, SARB_MAX_PERIOD, pmu_range,
                                     standard_mode)
from labqc.instruments.smu import Capabilities, PulseTrain, Request, Sampling, Sweep

# --- limits (4200A-SCS datasheet and KXCI manual; docs/keithley4200a.md) ---------------

POINTS_PER_TEST = 4096  # a VL/IL list and the reading buffer
MAX_DELAY = 6.553  # s, DT
LINE_PERIOD = 1 / 50  # s, one PLC at 50 Hz: the longer of the two, so step-time checks hold on both
MIN_SAMPLE_INTERVAL = 0.1  # s, sampling tests (kxci_sampling.py): room for one reading at NPLC <= 5
SETTLE = 100e-6  # s, settling before each reading at delay factor 1
CHUNK_SECONDS = 1.0  # s of instrument time between reads of a running test's data (at least)
#: s between status polls, and at most between two chunks of a running request (an empty
#: one when nothing came): how long a stop or abort can wait, however long the test.
STOP_SECONDS = 1.0



@dataclass(frozen=True)
class K4200ACapabilities(Capabilities):
    """The generic checks plus the 4200A's own: DT maximum, where a pulse train can run
    (PMU, SMU or nowhere) and the PMU's range, period and samples."""

    #: Current ranges of the PMU channel (measure ranges: none of them limits the current).
    pmu_ranges: tuple[float, ...] = PMU_CURRENT_RANGES
    has_pmu: bool = True
    #: The series load on the PMU's path the user states (ohm), sent as :PMU:LOAD; None: none.
    pmu_load: float | None = None
    #: Load-line effect compensation on the PMU (off unless asked for).
    llec: bool = False

    def check(self, request: Request) -> None:
        if isinstance(request, PulseTrain):
            self._check_train(request)
            return
        super().check(request)
        if isinstance(request, Sweep):
            integration = request.nplc * LINE_PERIOD
            if request.step_time < integration:
                self._fail(f"a step time of {request.step_time:g} s is shorter than the integration time "
                           f"of {integration:g} s at NPLC {request.nplc:g}")
            if request.step_time > MAX_DELAY + integration:
                self._fail(f"a step time of {request.step_time:g} s exceeds the longest step, "
                           f"{MAX_DELAY:g} s delay plus the integration time")
        elif isinstance(request, Sampling):
            gaps = np.diff(np.concatenate([[0.0], request.times]))
            if request.points > 1 and float(np.min(gaps[1:])) < MIN_SAMPLE_INTERVAL:
                self._fail(f"samples {float(np.min(gaps[1:])):g} s apart are closer than the "
                           f"{MIN_SAMPLE_INTERVAL:g} s labqc's sampling allows (use a Sweep of constant "
                           "levels for faster sampling)")

    def load(self, p: PulseTrain) -> float | None:
        """The series load on the PMU's path for ``p``: the request's, else the driver's."""
        return p.series_load or self.pmu_load

    def route(self, p: PulseTrain) -> str:
        """"pmu" or "smu": where ``p`` runs with its compliance honoured (see kxci_route)."""
        load = self.load(p)
        if self.has_pmu and route.pmu_honours(p, load, self.llec):
            return "pmu"
        if route.smu_plan(p) is not None:
            return "smu"
        stated = f"the stated {load:g} ohm load" if load else "no stated series load"
        self._fail(f"its PMU has no current limit, and with {stated} this train could drive "
                   f"{route.pmu_current_bound(p, load, self.llec):.3g} A, above the {p.compliance:g} A "
                   f"compliance, while it is too fast for an SMU (pulse width at least {route.SMU_MIN_STEP:g} s, "
                   "with the read and the gap whole multiples of it), so state a series load that holds the "
                   "current (--pmu-load) or use a compliance-limited SMU sweep")

    def _check_train(self, p: PulseTrain) -> None:
        where = self.route(p)
        if where == "smu":
            plan = route.smu_plan(p)
            replace(self, pulse_capable=True)._check_pulses(p)
            self.check(Sweep(plan.levels, p.compliance, step_time=plan.step, nplc=p.nplc,
                             measure_range=p.measure_range))
            return
        super().check(p)
        self._check_pmu(p)

    def _check_pmu(self, p: PulseTrain) -> None:
        lo, hi = route.PMU_LOAD_RANGE
        if p.series_load is not None and not lo <= p.series_load <= hi:
            self._fail(f"a series load of {p.series_load:g} ohm is outside the {lo:g} to {hi:g} ohm "
                       ":PMU:LOAD accepts")
        peak = route.peak_volts(p)
        if peak > PMU_MAX_V:
            self._fail(f"|V| = {peak:g} V exceeds the {PMU_MAX_V:g} V of the PMU's 10 V range")
        if p.read_levels is not None and p.read_width < self.min_pulse_width:
            self._fail(f"a read width of {p.read_width:g} s is below the minimum of {self.min_pulse_width:g} s")
        if self.llec and not (standard_mode(p) and pmu_range(p, self) >= min(PMU_RANGES_NO_RPM)):
            self._fail("load-line effect compensation works only in standard pulse mode (identical pulses, "
                       "no reads) on the PMU's 10 mA and 200 mA ranges, and this train needs Segment Arb or "
                       "an RPM range")
        limit = PMU_MAX_PERIOD if standard_mode(p) else SARB_MAX_PERIOD
        if p.period > limit:
            self._fail(f"a period of {p.period:g} s exceeds the {limit:g} s the PMU allows for this train")
        try:
            sarb.period_sequence(float(p.amplitudes[0]), None if p.read_levels is None else
                                 float(p.read_levels[0]), p)
        except ValueError as exc:
            self._fail(str(exc))


CAPABILITIES = K4200ACapabilities(
    # Medium-power 4200-SMU without preamplifier; a 4200-PA adds 1 pA-10 nA ranges and a
    # 100 pA compliance floor, a high-power 4210-SMU goes to 1 A.
    model="4200A-SCS (4200-SMU + 4225-PMU/RPM)",
    max_voltage=210.0,
    max_current=0.1,
    min_compliance=100e-9,  # KXCI silently raises smaller limits; refuse them instead
    voltage_ranges=(20.0, 200.0),
    current_ranges=(100e-9, 1e-6, 10e-6, 100e-6, 1e-3, 10e-3, 100e-3),
    nplc_range=(0.01, 10.0),
    max_sweep_points=256 * POINTS_PER_TEST,  # chained tests of 4096
    min_step_time=2.5e-3,  # the shortest practical system-mode step (docs/keithley4200a.md)
    min_pulse_width=40e-9,  # PMU 10 V range
    max_pulse_count=PMU_MAX_BURST,
    max_samples=100_000,
    pulse_capable=True,
    extra={"points_per_test": POINTS_PER_TEST, "var1_points": 1024, "max_delay_s": MAX_DELAY,
           "pmu_max_v": PMU_MAX_V, "pmu_max_samples": PMU_MAX_SAMPLES, "pmu_page": PMU_PAGE,
           "pmu_current_ranges": PMU_CURRENT_RANGES, "min_sample_interval_s": MIN_SAMPLE_INTERVAL},
)
