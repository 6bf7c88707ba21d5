"""The simulated 2614B's settings tables, exercised through TSP as a host would write them.

Allowed values are the Series 2600B reference manual's (measure.nplc 0.001 to 25;
measure.interval 0 to 1 s; the 2614B's ranges 200 mV/2/20/200 V and 100 nA ... 1.5 A;
DELAY_AUTO -1; LIMIT_AUTO 0; format.data 1/2/3; localnode.linefreq 50 or 60), written out here.
"""
import pytest

from tsp_helpers import drain_errors, make, send, text


@pytest.fixture
def emu():
    return make()[0]


def error_code(emu, statement: str) -> float:
    send(emu, statement)
    errors = drain_errors(emu)
    return errors[0][0] if errors else 0


@pytest.mark.parametrize("statement, code", [
    ("smua.measure.nplc = 0.001", 0), ("smua.measure.nplc = 25", 0),
    ("smua.measure.nplc = 26", 1011), ("smua.measure.nplc = 0.0001", 1012),
    ("smua.measure.interval = 1", 0), ("smua.measure.interval = 1.5", 1011),
    ("smua.measure.delay = smua.DELAY_AUTO", 0), ("smua.measure.delay = -2", 1012),
    ("smua.source.delay = smua.DELAY_AUTO", 0),
    ("smua.source.limiti = 1.5", 0), ("smua.source.limiti = 2", 1011), ("smua.source.limiti = 1e-9", 1012),
    ("smua.source.limitv = 200", 0), ("smua.source.limitv = 201", 1011),
    ("smua.trigger.source.limiti = smua.LIMIT_AUTO", 0), ("smua.trigger.source.limitv = 0", 0),
    ("smua.trigger.source.limiti = 1e-9", 1012),
    ("smua.measure.autozero = smua.AUTOZERO_AUTO", 0), ("smua.measure.autozero = 3", 1011),
    ("smua.source.func = 2", 1011), ("smua.source.func = -1", 1012),
    ("smua.source.rangev = 250", 1011), ("smua.measure.rangei = 2", 1011),
    ("smua.trigger.count = 0", 0), ("smua.trigger.count = -3", 1012),
    ("smua.trigger.source.action = 3", 1011), ("smua.trigger.arm.stimulus = 1.5", -286),
    ("format.data = 3", 0), ("format.data = 4", 1011), ("format.data = 0", 1012),
    ("format.byteorder = format.SWAPPED", 0), ("format.byteorder = 2", 1011),
    ("localnode.linefreq = 50", 0), ("localnode.linefreq = 55", 1012), ("localnode.linefreq = 70", 1011),
    ("localnode.prompts = 2", 1011),
    ("smua.measure.nplc = 'fast'", -286),
])
def test_each_setting_accepts_what_the_manual_allows_and_refuses_the_rest(emu, statement, code):
    assert error_code(emu, statement) == code


def test_a_fixed_range_rounds_up_and_turns_autorange_off(emu):
    send(emu, "smua.source.rangev = 5 smua.measure.rangei = 2e-6")
    assert text(emu, "print(smua.source.rangev, smua.source.autorangev, smua.measure.rangei, "
                     "smua.measure.autorangei)") == "2.00000e+01\t0.00000e+00\t1.00000e-05\t0.00000e+00"


def test_a_source_level_picks_its_range_under_autorange_and_is_refused_beyond_a_fixed_one(emu):
    send(emu, "smua.source.levelv = 3")
    assert text(emu, "print(smua.source.rangev)") == "2.00000e+01"
    assert error_code(emu, "smua.source.rangev = 2 smua.source.levelv = 3") == 1011
    assert text(emu, "print(smua.source.levelv)") == "3.00000e+00"  # unchanged by the refused write


def test_a_refused_setting_keeps_its_value(emu):
    send(emu, "smua.measure.nplc = 0.5")
    assert error_code(emu, "smua.measure.nplc = 100") == 1011
    assert text(emu, "print(smua.measure.nplc)") == "5.00000e-01"


def test_reset_restores_the_settings_a_run_changed(emu):
    send(emu, "smua.measure.nplc = 0.1 smua.trigger.count = 7 smua.trigger.endpulse.action = smua.SOURCE_IDLE "
              "format.asciiprecision = 9 smua.source.limiti = 1e-6")
    send(emu, "reset()")
    assert text(emu, "print(smua.measure.nplc, smua.trigger.count, smua.trigger.endpulse.action, "
                     "format.asciiprecision, smua.measure.autozero)") == \
        "1.00000e+00\t1.00000e+00\t1.00000e+00\t6.00000e+00\t2.00000e+00"


def test_unknown_and_read_only_attributes_are_runtime_errors(emu):
    assert error_code(emu, "smua.source.levelx = 1") == -286
    assert error_code(emu, "smua.source.compliance = 1") == -286
    assert error_code(emu, "smua.trigger.endsweep.stimulus = 0") == -286  # endsweep has no stimulus


# trigger.timer[N] (Series 2600B reference manual): count 0 (for ever) to 1 048 575; delay
# 1 µs to 100 ks, each delay-list entry too; passthrough a boolean; stimulus an event ID.
@pytest.mark.parametrize("statement, code", [
    ("trigger.timer[1].count = 0", 0), ("trigger.timer[1].count = 1048575", 0),
    ("trigger.timer[1].count = 1048576", 1011), ("trigger.timer[1].count = -1", 1012),
    ("trigger.timer[1].count = 2.5", 1012),
    ("trigger.timer[1].delay = 1e-6", 0), ("trigger.timer[1].delay = 100000", 0),
    ("trigger.timer[1].delay = 5e-7", 1012), ("trigger.timer[1].delay = 100001", 1011),
    ("trigger.timer[1].delay = 'slow'", -286),
    ("trigger.timer[8].delaylist = {1e-4, 2e-4}", 0), ("trigger.timer[8].delaylist = {1e-4, 5e-7}", 1012),
    ("trigger.timer[8].delaylist = {1e-4, 2e5}", 1011),
    ("trigger.timer[1].passthrough = true", 0), ("trigger.timer[1].passthrough = 0", 0),
    ("trigger.timer[1].stimulus = smua.trigger.ARMED_EVENT_ID", 0), ("trigger.timer[1].stimulus = 1.5", -286),
    ("trigger.timer[1].stimulus = -1", -286), ("trigger.timer[1].EVENT_ID = 3", -286),
    ("trigger.timer[1].overrun = true", -286),
])
def test_each_timer_setting_accepts_what_the_manual_allows_and_refuses_the_rest(emu, statement, code):
    assert error_code(emu, statement) == code


def test_timer_settings_read_back_and_reset_restores_them(emu):
    send(emu, "trigger.timer[2].delaylist = {1e-3, 2e-3} trigger.timer[2].count = 7 "
              "trigger.timer[2].passthrough = true trigger.timer[2].stimulus = trigger.timer[1].EVENT_ID")
    assert text(emu, "print(trigger.timer[2].delay, trigger.timer[2].count, trigger.timer[2].passthrough, "
                     "trigger.timer[2].stimulus == trigger.timer[1].EVENT_ID)") == "1.00000e-03\t7.00000e+00\ttrue\ttrue"
    assert error_code(emu, "trigger.timer[2].count = 2.5 trigger.timer[2].delay = 0") == 1012
    assert text(emu, "print(trigger.timer[2].count)") == "7.00000e+00"  # a refused write changes nothing
    send(emu, "trigger.timer[2].delay = 5e-3")
    assert text(emu, "print(trigger.timer[2].delaylist[1], trigger.timer[2].delaylist[2])") == "5.00000e-03\tnil"
    send(emu, "trigger.timer[2].reset()")
    assert text(emu, "print(trigger.timer[2].delay, trigger.timer[2].count, trigger.timer[2].passthrough, "
                     "trigger.timer[2].stimulus)") == "1.00000e-05\t1.00000e+00\tfalse\t0.00000e+00"
