"""SetReset: compliance-limited SET and RESET with verify reads, and program-to-level.

``mode=cycle``: SET ramp (current limited), verify read, RESET ramp, verify read, per cycle.
``mode=program``: reach a target n*G0 +- tolerance. Below the window a SET with the
present compliance; above it a RESET, and the next SET's compliance is divided by the
factor. A SET that leaves the device below the window multiplies the compliance by the
factor (up to the maximum), and one that hardly moved it also raises the SET amplitude
by the amplitude step (up to the maximum). Gives up after the attempt limit with a
report of where it got.
"""
from __future__ import annotations


from labqc.instruments.smu import Sweep
from labqc.procedures import derive
from labqc.procedures import parameters as shared
from labqc.procedures.base import LabqcProcedure, require, triangle
from labqc.procedures.parameters import Choice, Float, Integer
from labqc.procedures.derive import fmt


class SetReset(LabqcProcedure):
    """Compliance-limited SET/RESET with verify reads, or program to n*G0 +- tolerance.

    Default: 3 SET/RESET cycles, SET ramp to +3 V at 100 uA, RESET ramp to -3 V at
    10 mA, 20 mV steps of 5 ms, verify reads at 0.1 V.

    Program to 1 G0 (Ag nanowire: a 100 uA compliance lands on 1 G0):
        labqc run SetReset --sim ag-nanowire --mode program --target 1 --tolerance 0.25
    """

    mode = Choice("Mode", choices=["cycle", "program"], default="cycle",
                  help="cycle: SET/RESET cycles; program: reach the target level")
    set_voltage = shared.voltage("SET voltage", 3.0, "end of the SET ramp (first amplitude when programming)")
    set_compliance = shared.compliance("SET compliance", 100e-6,
                                       "current limit of the SET (first compliance when programming)")
    reset_voltage = shared.voltage("RESET voltage", -3.0, "end of the RESET ramp (negative)", negative=True)
    reset_compliance = shared.compliance("RESET compliance", 10e-3, "current limit of the RESET")
    step = shared.voltage_step("Voltage step", 20.0, "voltage step of the ramps")
    step_time = shared.milliseconds("Step time", 5.0, "time per ramp step")
    cycles = shared.cycles(3, "SET/RESET cycles (mode cycle)")
    target = Float("Target level", units="G0", default=1.0, minimum=0.0, maximum=100.0,
                   help="level to program, in G0 (mode program)")
    tolerance = Float("Tolerance", units="G0", default=0.25, minimum=0.0, maximum=100.0,
                      help="accepted distance from the target, in G0")
    compliance_factor = Float("Compliance factor", default=1.5, minimum=0.0, maximum=100.0,
                              help="compliance multiplier after an undershoot (divider after an overshoot)")
    max_compliance = shared.compliance("Maximum compliance", 10e-3,
                                       "highest SET compliance programming may use")
    amplitude_step = Float("Amplitude step", units="V", default=0.1, minimum=0.0, maximum=10.0,
                           help="SET amplitude increase when a SET did not move the device")
    max_set_voltage = shared.voltage("Maximum SET voltage", 5.0, "highest SET amplitude programming may use")
    max_attempts = Integer("Maximum attempts", default=30, minimum=0, maximum=100_000,
                           help="SET/RESET operations before programming gives up")
    read_voltage, read_compliance = shared.read(0.1, "verify read voltage",
                                                     compliance_help="current limit of the verify read")
    nplc = shared.nplc(0.01, "integration time per ramp point")

    def validate(self) -> None:
        super().validate()
        require(self.set_voltage > 0, f"the SET voltage must be > 0 V, got {self.set_voltage:g} V")
        require(self.reset_voltage < 0, f"the RESET voltage must be < 0 V, got {self.reset_voltage:g} V")
        require(self.set_compliance > 0, "the SET needs a current compliance > 0 A")
        require(self.reset_compliance > 0, "the RESET needs a current compliance > 0 A")
        require(self.step > 0, f"the voltage step must be > 0 mV, got {self.step:g} mV")
        require(self.step_time > 0, f"the step time must be > 0 ms, got {self.step_time:g} ms")
        require(self.read_voltage != 0, "the read voltage must not be 0 V (G = I/V is undefined there)")
        require(self.read_compliance > 0, "the read needs a current compliance > 0 A")
        if self.mode == "cycle":
            require(self.cycles >= 1, f"the number of cycles must be at least 1, got {self.cycles}")
        else:
            require(self.target > 0, f"the target level must be > 0 G0, got {self.target:g} G0")
            require(self.tolerance > 0, f"the tolerance must be > 0 G0, got {self.tolerance:g} G0")
            require(self.compliance_factor > 1, "the compliance factor must be > 1")
            require(self.max_compliance >= self.set_compliance,
                    "the maximum compliance must be at least the SET compliance")
            require(self.max_set_voltage >= self.set_voltage,
                    "the maximum SET voltage must be at least the SET voltage")
            require(self.max_attempts >= 1, "programming needs at least 1 attempt")

    def set_sweep(self, voltage: float | None = None, compliance: float | None = None) -> Sweep:
        return Sweep(levels=triangle(voltage or self.set_voltage, self.step * 1e-3),
                     compliance=compliance or self.set_compliance, step_time=self.step_time * 1e-3,
                     nplc=self.nplc)

    def reset_sweep(self) -> Sweep:
        return Sweep(levels=triangle(self.reset_voltage, self.step * 1e-3),
                     compliance=self.reset_compliance, step_time=self.step_time * 1e-3, nplc=self.nplc)

    def requests(self):
        out = [self.set_sweep(), self.reset_sweep(),
               self.read_request(self.read_voltage, self.read_compliance, 1.0)]
        if self.mode == "program":  # the most the programming loop may ask for
            out.append(self.set_sweep(self.max_set_voltage, self.max_compliance))
        return out

    def estimated_duration(self) -> float:
        pair = self.set_sweep().duration + self.reset_sweep().duration + 0.1
        if self.mode == "cycle":
            return self.cycles * pair
        return self.max_attempts * self.set_sweep(self.max_set_voltage).duration

    def estimated_rows(self) -> int:
        if self.mode == "cycle":  # SET, read, RESET, read
            return self.cycles * (self.set_sweep().points + self.reset_sweep().points + 2)
        # a first read, then at most max_attempts of (the longer operation, read)
        longest = max(self.set_sweep(self.max_set_voltage).points, self.reset_sweep().points)
        return 1 + self.max_attempts * (longest + 1)

    # ----------------------------------------------------------------- running
    def startup(self) -> None:
        self.per_cycle: list[dict] = []
        self.history: list[dict] = []
        self.outcome: dict = {}

    def execute(self) -> None:
        if not hasattr(self, "history"):
            self.startup()
        if self.mode == "cycle":
            self._cycles()
        else:
            self._program()

    def _read(self, cycle: int) -> float:
        return float(self.read_point(self.read_voltage, self.read_compliance, cycle=cycle)["G/G0"])

    def _cycles(self) -> None:
        for cycle in range(1, self.cycles + 1):
            sweep = self.set_sweep()
            rows = self.measure(sweep, cycle=cycle, segment="set")
            half = derive.half_ramp(sweep.levels)
            v_set = derive.first_jump(rows["Source (V|A)"][half], rows["Current (A)"][half], up=True,
                                      compliance=rows["Compliance"][half])
            lrs = self._read(cycle)
            sweep = self.reset_sweep()
            rows = self.measure(sweep, cycle=cycle, segment="reset")
            half = derive.half_ramp(sweep.levels)
            v_reset = derive.first_jump(rows["Source (V|A)"][half], rows["Current (A)"][half], up=False)
            hrs = self._read(cycle)
            self.per_cycle.append({"cycle": cycle, "V_SET (V)": v_set, "LRS G/G0": lrs,
                                   "V_RESET (V)": v_reset, "HRS G/G0": hrs})

    def _program(self) -> None:
        lo, hi = self.target - self.tolerance, self.target + self.tolerance
        icc, v_set = self.set_compliance, self.set_voltage
        g = self._read(0)
        attempt = 0
        while not (lo <= g <= hi) and attempt < self.max_attempts:
            attempt += 1
            if g > hi:
                self.measure(self.reset_sweep(), cycle=attempt, segment="reset")
                icc = max(icc / self.compliance_factor, 1e-9)
                op = "reset"
            else:
                self.measure(self.set_sweep(v_set, icc), cycle=attempt, segment="set")
                op = "set"
            g_new = self._read(attempt)
            self.history.append({"attempt": attempt, "operation": op, "compliance (A)": icc,
                                 "SET voltage (V)": v_set, "G/G0 before": g, "G/G0 after": g_new})
            if op == "set" and g_new < lo:
                icc = min(icc * self.compliance_factor, self.max_compliance)
                if g_new - g < 0.1 * self.tolerance:
                    v_set = min(v_set + self.amplitude_step, self.max_set_voltage)
            g = g_new
        reached = lo <= g <= hi
        self.outcome = {"reached": reached, "final G/G0": g, "attempts": attempt,
                        "final compliance (A)": icc, "final SET voltage (V)": v_set}
        if not reached:
            self.outcome["report"] = (
                f"did not reach {self.target:g} +- {self.tolerance:g} G0 in {attempt} attempt{'' if attempt == 1 else 's'}: "
                f"last read {g:.3g} G0 at a SET compliance of {fmt(icc, unit='A')} and {v_set:.3g} V")

    def summary(self) -> dict:
        out: dict = {"mode": self.mode}
        if self.mode == "cycle":
            cycles = getattr(self, "per_cycle", [])
            out.update({
                "cycles done": len(cycles),
                "median LRS G/G0": derive.nanmedian(c["LRS G/G0"] for c in cycles),
                "median HRS G/G0": derive.nanmedian(c["HRS G/G0"] for c in cycles),
                "median V_SET (V)": derive.nanmedian(c["V_SET (V)"] for c in cycles),
                "median V_RESET (V)": derive.nanmedian(c["V_RESET (V)"] for c in cycles),
                "per cycle": cycles,
            })
        else:
            out.update({"target G/G0": self.target, "tolerance G/G0": self.tolerance,
                        **getattr(self, "outcome", {}), "history": getattr(self, "history", [])})
        return out

    def summary_lines(self, summary: dict) -> list[str]:
        if summary["mode"] == "cycle":
            return [f"cycles: {summary['cycles done']}, LRS {fmt(summary['median LRS G/G0'], suffix=' G0')}, "
                    f"HRS {fmt(summary['median HRS G/G0'], suffix=' G0')} (medians), V_SET "
                    f"{fmt(summary['median V_SET (V)'], suffix=' V')}, V_RESET {fmt(summary['median V_RESET (V)'], suffix=' V')}"]
        if "reached" not in summary:
            return ["programming did not finish"]
        if summary["reached"]:
            return [f"reached {fmt(summary['final G/G0'], suffix=' G0')} (target {summary['target G/G0']:g} +- "
                    f"{summary['tolerance G/G0']:g}) in {summary['attempts']} attempt{'' if summary['attempts'] == 1 else 's'}, compliance "
                    f"{fmt(summary['final compliance (A)'], unit='A')}"]
        return [summary["report"]]


__all__ = ["SetReset"]
