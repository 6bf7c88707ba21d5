"""Every KXCI message the 4200A driver sends, spelled in one place.

:data:`SENDS` maps a name to the message's template; :func:`msg` fills it in, numbers as
KXCI numeric fields (:func:`~labqc.instruments.kxci_format.num`: at most 12 characters,
2-digit exponent), lists comma-separated. The driver modules (keithley4200a.py,
kxci_sampling.py, kxci_pulses.py) build every message here, so a spelling is changed once.
The first word of each template is a command of the simulated 4200A's command table
(instruments/sim/kxci_commands.py); tests/drivers/test_k4200a_messages.py checks that each
one is accepted there. What each one does and which source confirms it:
docs/keithley4200a.md.
"""
from __future__ import annotations

import numpy as np

from labqc.instruments.kxci_format import num, nums

#: name -> template. ``{x}`` fields are filled by :func:`msg`.
SENDS: dict[str, str] = {
    # session and identity
    "command_set": "EM 1,0",  # the 4200A command set (IT4, 4096-point buffers)
    "clear_error": ":ERROR:LAST:CLEAR",
    "last_error": ":ERROR:LAST:GET",
    "identity": "*IDN?",
    "options": "*OPT?",
    "status": "SP",
    # pages
    "user_mode": "US",
    "define_page": "DE",
    "source_page": "SS",
    "measure_page": "SM",
    "run_page": "MD",
    # modeless SMU settings
    "exit_on_compliance": "EC {on}",
    "standby_at_end": "ST {ch},{on}",
    "integration": "IT4,1,0,{nplc}",  # default settling, no filter, this NPLC
    "range_floor": "RG {ch},{amps}",  # the lowest current range autorange may use
    # DE page
    "channel": "CH{ch},'V{ch}','I{ch}',{mode},{func}",
    "undefine": "CH{ch}",
    # SS page
    "list_sweep": "{source}L{ch},1,{compliance},{levels}",
    "constant": "{source}C{ch},{level},{compliance}",
    "hold_time": "HT {seconds}",
    "delay_time": "DT {seconds}",
    # SM page
    "display_list": "DM2",
    "list_names": "LI 'I{ch}','V{ch}'",
    "readings": "NR {count}",
    "interval": "IN {seconds}",
    "wait_time": "WT {seconds}",
    # MD page and readback
    "run_test": "ME1",
    "abort_test": "ME4",
    "data_out": "DO '{name}'",
    # user mode
    "user_source": "D{source}{ch},0,{level},{compliance}",  # range 0: autorange
    "user_off": "DV{ch}",
    "test_voltage": "TV{n}",
    "test_current": "TI{ch}",
    # PMU
    "pmu_init": ":PMU:INIT {mode}",
    "pmu_rpm_to_pmu": ":PMU:RPM:CONFIGURE PMU1-{ch},0",
    "pmu_source_range": ":PMU:SOURCE:RANGE {ch},10",
    "pmu_measure_range": ":PMU:MEASURE:RANGE {ch},2,{amps}",  # 2: a fixed range
    "pmu_load": ":PMU:LOAD {ch},{ohms}",
    "pmu_llec": ":PMU:LLEC:CONFIGURE {ch},{on}",
    "pmu_spot_mean": ":PMU:MEASURE:MODE 1",
    "pmu_train": ":PMU:PULSE:TRAIN {ch},{base},{amplitude}",
    "pmu_times": ":PMU:PULSE:TIMES {ch},{period},{width},{rise},{fall},0",
    "pmu_burst": ":PMU:PULSE:BURST:COUNT {count}",
    "pmu_output": ":PMU:OUTPUT:STATE {ch},{on}",
    "pmu_sarb_values": ":PMU:SARB:SEQ:{what} {ch},{seq},{values}",
    "pmu_sarb_list": ":PMU:SARB:WFM:SEQ:LIST {ch},{entries}",
    "pmu_execute": ":PMU:EXECUTE",
    "pmu_abort": ":PMU:ABORT",
    "pmu_running": ":PMU:TEST:STATUS?",
    "pmu_count": ":PMU:DATA:COUNT? {ch}",
    "pmu_get": ":PMU:DATA:GET {ch},{start},{count}",
}


def _field(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "1" if value else "0"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, float):
        return num(value)
    if isinstance(value, str):
        return value
    return nums(value)  # a list of levels


def msg(_name: str, **values) -> str:
    """The message ``_name`` of :data:`SENDS` with ``values`` filled in: bools as 1/0,
    ints as they are, floats as KXCI numbers, sequences as comma-separated numbers,
    strings as given."""
    return SENDS[_name].format(**{k: _field(v) for k, v in values.items()})
