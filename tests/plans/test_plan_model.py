"""The plan model (labqc.plan) and the journal (labqc.journal): expansion, stable ids,
whole-plan validation with one sentence per problem, stop conditions, torn journals."""
from __future__ import annotations

import json

import pytest

from labqc.journal import Journal
from labqc.plan import PlanError, StopCondition, parse_plan, stop_reason, stuck_streak
from labqc.procedures import PROCEDURES
from labqc.procedures.spec import SPECS

GOOD = """
[plan]
name = "night"
on_failure = "skip-device"

[[device]]
label = "A1"
seed = 1
[[device]]
label = "B2"
seed = 2

[[step]]
name = "iv"
procedure = "VoltageSweep"
repeat = 2
[step.parameters]
cycles = 3
step = "20 mV"
[step.vary]
set_compliance = ["2 mA", "5mA", 0.007]

[[step]]
name = "hold"
procedure = "Retention"
devices = ["B2"]
on_failure = "retry"
[step.parameters]
duration = 100
interval = 10
"""


def parse(text: str):
    return parse_plan(text, SPECS)


def test_expansion_order_ids_and_values():
    plan = parse(GOOD)
    assert len(plan.runs) == 2 * 3 * 2 + 1
    first, second, third = plan.runs[:3]
    assert first.id == "001-iv-A1-set_compliance=2mA-r1"
    assert second.id == "002-iv-A1-set_compliance=2mA-r2"
    assert third.id == "003-iv-A1-set_compliance=5mA-r1"
    assert plan.runs[6].device.label == "B2" and plan.runs[-1].id == "013-hold-B2"
    assert [r.index for r in plan.runs] == list(range(13))
    # units are converted by the procedure's own parameter (A), a bare number is taken as is
    assert [r.parameters["set_compliance"] for r in plan.runs[0:6:2]] == pytest.approx([2e-3, 5e-3, 7e-3])
    assert first.parameters["step"] == 20.0 and first.device.seed == 1 and "seed" not in first.parameters
    assert first.on_failure == "skip-device" and first.retries == 0
    hold = plan.runs[-1]
    assert hold.on_failure == "stop" and hold.retries == 1  # "retry": one more attempt, then stop
    assert first.group == "iv/A1" and plan.runs[6].group == "iv/B2"


def test_ids_are_stable_and_the_digest_follows_the_text():
    a, b = parse(GOOD), parse(GOOD)
    assert [r.id for r in a.runs] == [r.id for r in b.runs] and a.digest == b.digest
    assert parse(GOOD.replace("interval = 10", "interval = 20")).digest != a.digest


def test_every_problem_is_listed_once_in_one_sentence():
    bad = """
[plan]
on_failure = "panic"
retries = -1
[[device]]
label = "A1"
[[step]]
procedure = "VoltageSweep"
[step.parameters]
v_set = 500
colour = "red"
[step.vary]
set_compliance = ["2 mA", "lots"]
[[step]]
procedure = "Nonsense"
[[step]]
procedure = "SetReset"
devices = ["Z9"]
seed = 3
[step.parameters]
cycles = 0
[step.stop]
stuck_cycles = 0
"""
    with pytest.raises(PlanError) as info:
        parse(bad)
    problems = info.value.problems
    expected = ["on_failure in [plan] must be one of", "retries in [plan] must be a whole number",
                "v_set = 500 must be at most 210 V", "has no parameter 'colour'",
                "set_compliance = 'lots' is not a number", "no procedure called 'Nonsense'",
                "names the device 'Z9'", "unknown key 'seed'", "the number of cycles must be at least 1",
                "stop.stuck_cycles in step 3 must be a whole number >= 1"]
    for words in expected:
        assert sum(words in p for p in problems) == 1, (words, problems)
    assert len(problems) == len(expected)
    assert all("\n" not in p for p in problems)
    assert str(info.value).startswith(f"the plan has {len(expected)} problems:")


def test_toml_syntax_error_is_one_sentence():
    with pytest.raises(PlanError) as info:
        parse("[[step]\nprocedure = 1")
    assert len(info.value.problems) == 1 and "not valid TOML" in info.value.problems[0]


def test_a_plan_needs_steps_and_unique_names():
    with pytest.raises(PlanError, match="no \\[\\[step\\]\\]"):
        parse("[plan]\nname = 'x'\n")
    twice = "[[step]]\nname='a'\nprocedure='VoltageSweep'\n[[step]]\nname='a'\nprocedure='SetReset'\n"
    with pytest.raises(PlanError, match="two steps are named 'a'"):
        parse(twice)


def test_stuck_streak_counts_unswitched_cycles_from_the_end():
    reads = [(1, 5.0), (1, 0.1), (2, 5.0), (2, 4.0), (3, 5.2), (3, 4.9), (4, 5.1), (4, 5.0)]
    assert stuck_streak(reads, 2.0) == (3, "LRS")
    assert stuck_streak([(1, 0.01), (1, 0.012)], 2.0) == (1, "HRS")
    assert stop_reason(StopCondition(stuck_cycles=3), reads).startswith("stuck in LRS for 3 cycles")
    assert stop_reason(StopCondition(stuck_cycles=4), reads) == ""


def test_level_conditions():
    cond = StopCondition(level_at_least=3.0)
    assert stop_reason(cond, [(1, 1.0), (1, 3.2)]).startswith("the device reached 3.2 G0")
    assert stop_reason(cond, [(1, 3.2), (1, 1.0)]) == ""  # the last read counts
    assert stop_reason(StopCondition(level_at_most=0.5), [], last_level=0.2).startswith("the device fell to")
    assert stop_reason(StopCondition(), [(1, 9.0)]) == ""


def test_journal_survives_a_torn_last_line(tmp_path):
    j = Journal(tmp_path / "journal.jsonl")
    j.append("plan", name="x", digest="d", runs=2)
    j.append("start", id="001", attempt=1, file="001.csv")
    j.append("end", id="001", attempt=1, status="finished", rows=10, final=True)
    with open(j.path, "ab") as f:  # the process died in the middle of a line
        f.write(b'{"event": "start", "id": "002", "att')
    state = j.state()
    assert state.run("001").done and state.run("002").status == "pending"
    j.append("start", id="002", attempt=1, file="002.csv")
    lines = j.path.read_text().splitlines()
    assert len(lines) == 4 and all(json.loads(line) for line in lines)  # the torn line was cut
    assert j.state().run("002").status == "interrupted"


def test_journal_states():
    j = Journal("/nonexistent/never")
    assert list(j.records()) == [] and j.state().run("x").status == "pending"
