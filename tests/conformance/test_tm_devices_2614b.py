"""The simulated 2614B driven by Tektronix's own Python package, tm-devices, as its users do.

tm-devices (PyPI ``tm-devices``) was written by the instrument's maker against real
instruments; its SMU2614B driver and its 2614B command tree (tm_devices/commands/
smu2614b_commands.py and the gen_* modules, generated from the reference manual) are a
second opinion on what the instrument accepts and answers. Here it connects over a real
loopback socket with pyvisa-py (its STANDALONE mode), identifies the instrument, sources
and measures, sweeps into the buffers and reads them back, reads errors through
``status.standard.event``, reloads a script through ``script.delete`` and cleans up
(``errorqueue.clear() status.reset() reset()`` then an ESR of 0). Then every TSP name the
labqc driver sends is looked up in tm-devices' command tree.
"""
from __future__ import annotations

import re

import numpy as np
import pytest

# tm-devices is a test dependency (pyproject.toml, extra "test"): a missing one fails here
from tm_devices import DeviceManager, configure_logging
from tm_devices.commands import SMU2614BCommands
from tm_devices.commands.gen_ftsc04_smu.buffervar import Buffervar
from tm_devices.helpers import DMConfigOptions

from labqc.instruments.keithley2614b import Keithley2614B
from labqc.instruments.sim.lab import RES_2614B_GPIB, RES_2614B_LAN, SimulatedLab, get_lab, sim_library
from labqc.instruments.sim.server import start_background
from labqc.instruments.sim.tsp2614b import K2614BEmulator
from labqc.instruments.smu import PulseTrain, Repeat, Sampling, Sweep

R = 10e3  # the ohmic preset

# pyvisa-py's raw socket has no serial poll; tm-devices warns and goes on (as on the bench)
pytestmark = pytest.mark.filterwarnings("ignore:A VISA IO error occurred:UserWarning")


@pytest.fixture(scope="module")
def bench():
    configure_logging(log_console_level="NONE", log_file_level="NONE")
    lab = SimulatedLab("ohmic", seed=7)
    server = start_background(lab, port_2614b=0, port_4200a=None)
    options = DMConfigOptions(standalone=True, setup_cleanup=True, teardown_cleanup=True,
                              check_for_updates=False, default_visa_timeout=5000)
    dm = DeviceManager(verbose=False, config_options=options)
    try:
        smu = dm.add_smu(server.resources["2614B"])
        yield smu, lab.emulator(RES_2614B_LAN)
    finally:
        dm.remove_all_devices()
        dm.close()
        server.stop()


def test_identifies_as_a_2614b(bench):
    smu, _ = bench
    assert type(smu).__name__ == "SMU2614B"
    assert "2614B" in smu.model and smu.manufacturer.startswith("Keithley")
    assert smu.total_channels == 2 and smu.all_channel_names_list == ("a", "b")
    assert smu.commands.localnode.model == "2614B"
    assert float(smu.commands.localnode.linefreq) in (50.0, 60.0)


def test_source_and_measure_through_the_command_tree(bench):
    smu, emu = bench
    a = smu.commands.smu["a"]
    a.source.func = a.OUTPUT_DCVOLTS
    a.source.limiti = 1e-3
    a.source.levelv = 0.5
    a.source.output = a.OUTPUT_ON
    assert float(a.source.output) == 1  # a query: the writes before it have run
    assert emu.outputs_on()["smua"]
    assert float(a.measure.i()) == pytest.approx(0.5 / R, rel=1e-5)
    i, v = (float(x) for x in a.measure.iv().split("\t"))  # current first, TAB between
    assert (i, v) == (pytest.approx(0.5 / R, rel=1e-5), pytest.approx(0.5, rel=1e-5))
    a.source.levelv = 20.0  # 2 mA wanted, 1 mA allowed
    assert float(a.measure.i()) == pytest.approx(1e-3, rel=1e-5)
    assert a.source.compliance == "true"
    a.source.output = a.OUTPUT_OFF
    assert smu.get_errors() == (0, ())
    assert not emu.outputs_on()["smua"]


def test_sweep_into_the_buffers_and_read_them_back(bench):
    smu, _ = bench
    smu.write("smua.reset() smua.source.func = smua.OUTPUT_DCVOLTS smua.source.limiti = 1e-3")
    smu.write("smua.nvbuffer1.clear() smua.nvbuffer1.collecttimestamps = 1 smua.nvbuffer2.clear()")
    smu.write("smua.trigger.source.linearv(-1, 1, 21) smua.trigger.source.limiti = 1e-3 "
              "smua.trigger.measure.action = smua.ENABLE smua.trigger.measure.iv(smua.nvbuffer1, smua.nvbuffer2) "
              "smua.trigger.endpulse.action = smua.SOURCE_HOLD smua.trigger.endsweep.action = smua.SOURCE_IDLE "
              "smua.trigger.count = 21 smua.trigger.source.action = smua.ENABLE")
    smu.write("smua.source.output = smua.OUTPUT_ON smua.trigger.initiate()")
    smu.ieee_cmds.wai()  # waitcomplete()
    smu.write("smua.source.output = smua.OUTPUT_OFF")
    data = smu.get_buffers("smua.nvbuffer1.readings", "smua.nvbuffer2.readings", "smua.nvbuffer1.timestamps")
    i, v, t = (np.array(data[k]) for k in ("smua.nvbuffer1.readings", "smua.nvbuffer2.readings",
                                             "smua.nvbuffer1.timestamps"))
    assert len(i) == len(v) == len(t) == 21
    assert v == pytest.approx(np.linspace(-1, 1, 21), abs=1e-9)
    assert i == pytest.approx(v / R, rel=1e-5, abs=1e-12)
    assert np.all(np.diff(t) > 0)
    assert float(smu.query("print(smua.nvbuffer1.n)")) == 21
    assert smu.get_errors() == (0, ())


def test_errors_come_back_through_the_standard_event_register(bench):
    smu, _ = bench
    smu.write("x = = 1")  # a syntax error: command error (ESR bit 5)
    code, messages = smu.get_errors()
    assert code == 32 and len(messages) == 1 and messages[0].startswith("-2.85000e+02\t")
    assert smu.get_errors() == (0, ())  # read once, gone
    smu.write("smua.source.levelv = 1e9")  # out of range: not a command error
    code, messages = smu.get_errors()
    assert code & 32 == 0 and len(messages) == 1
    smu.write("smua.source.levelv = 1e9")
    assert smu.has_errors()
    assert smu.ieee_cmds.opc() == "1"  # waitcomplete() print([[1]])


def test_scripts_load_run_and_reload(bench):
    smu, _ = bench
    smu.load_script("LabqcHello", script_body="print('first')")
    assert smu.query("LabqcHello()") == "first"
    smu.load_script("LabqcHello", script_body="print('second')")  # script.delete, then loadscript
    assert smu.query("LabqcHello()") == "second"
    smu.load_script("LabqcSum", script_body="x = 0\nfor k = 1, 4 do x = x + k end\nprint(x)", run_script=True)
    assert float(smu.read()) == 10
    assert smu.get_errors() == (0, ())


def test_cleanup_leaves_the_instrument_reset_and_quiet(bench):
    smu, emu = bench
    smu.write("smua.source.levelv = 0.1 smua.source.output = smua.OUTPUT_ON")
    smu.write("x = = 1")  # an error cleanup must clear
    smu.cleanup()  # errorqueue.clear(), status.reset(), reset(), waitcomplete, then ESR must be 0
    assert not any(emu.outputs_on().values())
    assert smu.get_errors() == (0, ())


# --- the labqc driver's vocabulary against tm-devices' 2614B command tree ---------------------
class Recorder(K2614BEmulator):
    def execute(self, message: bytes) -> None:
        self.received.append(message.decode("latin-1"))
        super().execute(message)


@pytest.fixture
def driver_messages() -> list[str]:
    spec = sim_library("ohmic", seed=9292, time_scale=0)  # a lab of its own
    lab = get_lab(spec)
    lab.reset()

    def build(lab_, plan):
        emu = Recorder(lab_.device_for("2614B"), lab_.clock, faults=plan)
        emu.received = []
        return emu

    lab.add_instrument((RES_2614B_GPIB,), build)
    smu = Keithley2614B(RES_2614B_GPIB, visa_library=spec, timeout=5.0)
    try:
        for request in (Sweep([0, 0.3, -0.2, 0.1], compliance=1e-3, step_time=2e-3),
                        Sweep(np.linspace(0, 1e-6, 5), compliance=2.0, source="I", step_time=2e-2, nplc=0.1),
                        PulseTrain.uniform(1.0, 3, width=2e-3, period=5e-3, compliance=1e-3, read_level=0.1),
                        PulseTrain.uniform(1.0, 3, width=2e-3, period=5e-3, compliance=1e-3),
                        Sampling(0.1, 1e-3, [0.01, 0.03, 0.07], nplc=0.1),
                        Repeat((PulseTrain.uniform(1.0, 1, width=2e-3, period=4e-3, compliance=1e-3),
                                Sweep([0.1], compliance=1e-3, step_time=5e-3)), count=2)):
            for _ in smu.run(request):
                pass
        smu.read(0.1, compliance=1e-3)
        smu.abort()
        smu.output_off()
        return list(lab.emulator(RES_2614B_GPIB).received)
    finally:
        smu.close()
        lab.reset()


_LUA_WORDS = {"and", "break", "do", "else", "elseif", "end", "false", "for", "function", "if", "in",
              "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while"}
#: Lua's own base functions (in the instrument's Lua 5.0), not TSP commands of the tree.
_LUA_BASE = {"pcall"}
_CHAIN = re.compile(r"(?<![\w.])([A-Za-z]\w*(?:\.[A-Za-z_]\w*|\[\d+\])+)")
_CALL = re.compile(r"(?<![\w.\]])([A-Za-z]\w*)\s*\(")


def tsp_names(messages: list[str]) -> set[str]:
    """Every global TSP name used: dotted chains (smua.trigger.source.listv,
    trigger.timer[1].delay) and free function calls (printbuffer); Lua keywords, the
    driver's own globals (a leading underscore) and function parameters left out."""
    names: set[str] = set()
    for m in messages:
        if m.startswith("*"):
            continue
        text = re.sub(r"'[^']*'|\"[^\"]*\"", "''", m)
        params = {p.strip() for spec in re.findall(r"function\s+\w+\s*\(([^)]*)\)", text)
                  for p in spec.split(",")}
        names.update(_CHAIN.findall(text))
        names.update(c for c in _CALL.findall(text) if c not in _LUA_WORDS | _LUA_BASE and c not in params)
    return names


def _is_leaf(member) -> bool:
    """True for an attribute of the tree (a property returning the printed value), False
    for a subtree (a property returning the next command object)."""
    if not isinstance(member, property):
        return False
    ret = member.fget.__annotations__.get("return")
    text = ret if isinstance(ret, str) else getattr(ret, "__name__", str(ret))
    return text == "str" or text.startswith("dict[int, str")


def in_tree(name: str, commands) -> bool:
    """True when ``name`` (smua/smub mapped onto smu["a"]/["b"], timer indices kept) is an
    attribute, function, constant or subtree of tm-devices' 2614B command tree."""
    parts = re.findall(r"\[\d+\]|[A-Za-z_]\w*", name)
    obj = commands
    for k, part in enumerate(parts):
        last = k == len(parts) - 1
        if part.startswith("["):
            obj = obj[int(part[1:-1])]
            continue
        if obj is commands and re.fullmatch(r"smu[ab]", part):
            obj = commands.smu[part[-1]]
            continue
        if part not in dir(obj):
            return False
        if last:
            return True
        if part in ("nvbuffer1", "nvbuffer2"):  # the buffer's own tree is bufferVar
            obj = Buffervar(None, f"{obj._cmd_syntax}.{part}")
            continue
        if _is_leaf(getattr(type(obj), part, None)):
            return False  # an attribute (its getter would query the instrument) has nothing below it
        obj = getattr(obj, part)  # a subtree: a plain object, nothing is sent
    return True


def test_every_name_the_driver_sends_is_in_tm_devices_2614b_tree(driver_messages, bench):
    names = tsp_names(driver_messages)
    assert {"smua.trigger.source.listv", "trigger.timer[1].delaylist", "printbuffer",
            "format.REAL64", "errorqueue.count", "smua.nvbuffer1.timestamps"} <= names  # the parse works
    commands = bench[0].commands  # the tree of a connected SMU2614B (looking up sends nothing)
    assert isinstance(commands, SMU2614BCommands)
    missing = sorted(n for n in names if not in_tree(n, commands))
    assert missing == []


def test_the_lookup_finds_names_that_do_not_exist(bench):
    commands = bench[0].commands
    for wrong in ("smua.trigger.source.listvv", "smua.nvbuffer1.timestamp", "trigger.timer[1].delays",
                  "format.REAL128", "smua.source.levelv.x", "errorqueue.counts", "printbuffers"):
        assert not in_tree(wrong, commands), wrong
    assert in_tree("smub.measure.overlappediv", commands)
