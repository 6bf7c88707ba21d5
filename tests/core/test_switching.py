"""The one switching rule (labqc.switching) and the stop conditions built on it
(labqc.stops), streamed or whole; and a plan that judges its stop conditions from the
rows as they stream, not from its files."""
import numpy as np
import pytest

from labqc.stops import Seen, StopCondition, judge, seen_in
from labqc.switching import StuckWatch, cycle_reads, stuck_state, switched


def test_the_rule():
    assert switched(5.0, 1.0, 2.0) and switched(2.0, 1.0, 2.0) and not switched(1.9, 1.0, 2.0)
    assert switched(1.0, 0.0, 2.0)  # an open HRS read: as switched as it gets
    assert not switched(0.1, 5.0, 2.0)  # an HRS read above the LRS one is no switching
    assert stuck_state(1.0) == "LRS" and stuck_state(0.99) == "HRS"


def test_cycle_reads_splits_first_and_last_read_of_each_cycle():
    cycles, first, last, count = cycle_reads(np.array([1, 1, 2, 2, 2, 3]))
    assert cycles.tolist() == [1, 2, 3] and first.tolist() == [0, 2, 5]
    assert last.tolist() == [1, 4, 5] and count.tolist() == [2, 3, 1]


def test_streaming_in_any_chunks_books_what_the_whole_does():
    rng = np.random.default_rng(5)
    cycle = np.repeat(np.arange(1, 41), 2)
    lrs = np.where(np.arange(40) < 25, 5.0, 1.2) * rng.uniform(0.9, 1.1, 40)  # switching stops at 25
    hrs = np.full(40, 0.05) * rng.uniform(0.9, 1.1, 40)
    hrs[25:] = 1.0
    g = np.column_stack([lrs, hrs]).ravel()
    whole = StuckWatch(2.0)
    whole.add_reads(cycle, g)
    whole.flush()
    assert (whole.streak, whole.state, whole.cycles, whole.unbroken) == (15, "LRS", 40, False)
    for cuts in ([1, 2, 3], [33, 34], list(range(1, 80, 7))):
        watch = StuckWatch(2.0)
        for piece_c, piece_g in zip(np.split(cycle, cuts), np.split(g, cuts)):
            watch.add_reads(piece_c, piece_g)
        watch.flush()
        assert (watch.streak, watch.state, watch.cycles) == (whole.streak, whole.state, whole.cycles)


def test_a_cycle_with_one_read_says_nothing_and_nan_reads_are_left_out():
    watch = StuckWatch(2.0)
    watch.add_reads(np.array([1, 2, 2, 3]), np.array([0.1, 0.1, np.nan, 0.1]))
    watch.flush()
    assert watch.cycles == 0 and watch.streak == 0


def test_a_group_streak_continues_only_through_runs_that_never_switched():
    first = seen_in([(1, 5.0), (1, 4.0), (2, 5.0), (2, 4.5)], 2.0)
    assert (first.streak, first.unbroken) == (2, True)
    again = first.then(seen_in([(1, 5.0), (1, 4.9)], 2.0))
    assert (again.streak, again.state, again.last_level) == (3, "LRS", 4.9)
    broken = again.then(seen_in([(1, 5.0), (1, 0.1), (2, 0.3), (2, 0.2)], 2.0))
    assert (broken.streak, broken.state, broken.unbroken) == (1, "HRS", False)
    assert judge(StopCondition(stuck_cycles=3), again).startswith("stuck in LRS for 3 cycles in a row")
    assert judge(StopCondition(stuck_cycles=3), broken) == ""
    assert judge(StopCondition(level_at_most=0.25), broken).startswith("the device fell to 0.2 G0")
    assert Seen.from_record(again.record()) == again and Seen.from_record(None) == Seen()


def test_a_plan_judges_stop_conditions_from_the_stream_not_its_files(tmp_path):
    """Each step file is removed as soon as its run ends: the stop condition still fires
    after the second run, as it does with the files in place."""
    from labqc.instruments.sim.lab import get_lab, sim_library
    from labqc.journal import JOURNAL_NAME, Journal
    from labqc.procedures.plan_runner import run_plan, start_plan

    plan = tmp_path / "stuck.toml"
    plan.write_text('[[device]]\nlabel = "R"\nsim_preset = "ohmic"\nseed = 3\n\n[[step]]\nname = "cycling"\n'
                    'procedure = "SetReset"\nrepeat = 4\n[step.parameters]\ncycles = 2\nstep = "200 mV"\n'
                    '[step.stop]\nstuck_cycles = 3\n')
    get_lab(sim_library("ohmic", 3)).reset()
    directory = start_plan(plan, tmp_path / "run")

    def remove_file(topic, payload):
        if topic == "status":
            payload.path.unlink()

    assert run_plan(directory, stream=None, listeners=[remove_file]).ok
    state = Journal(directory / JOURNAL_NAME).state()
    statuses = [state.run(f"00{k}-cycling-R-r{k}").status for k in range(1, 5)]
    assert statuses == ["finished", "finished", "skipped", "skipped"]
    final = state.run("002-cycling-R-r2").final
    assert final["stop"].startswith("stuck in LRS for 4 cycles") and final["seen"]["streak"] == 4
    assert not list((directory / "steps").glob("*.csv"))


def test_read_roles_by_the_branch_before_or_the_place_in_the_cycle():
    from labqc.switching import ReadRoles

    def run(segments, cycles, chunks):
        roles, lrs, hrs = ReadRoles(), [], []
        seg, cyc = np.array(segments), np.array(cycles)
        for part in np.split(np.arange(seg.size), chunks):
            a, b = roles.split(seg[part] == "read", seg[part] == "set", seg[part] == "reset", cyc[part])
            lrs += part[a].tolist()
            hrs += part[b].tolist()
        return lrs, hrs

    sweep = (["set", "read", "reset", "read"] * 2, [1, 1, 1, 1, 2, 2, 2, 2])
    pulses = (["pulse", "read", "pulse", "read"] * 2, [1, 1, 1, 1, 2, 2, 2, 2])
    reset_only = (["reset", "read"] * 2, [1, 1, 2, 2])
    current = (["forward", "reverse", "read", "reset", "read"], [1] * 5)
    for chunks in ([], [1], [2, 3], list(range(1, 7))):
        assert run(*sweep, chunks) == ([1, 5], [3, 7])
        assert run(*pulses, chunks) == ([1, 5], [3, 7])  # a pulse endurance: by place in the cycle
        assert run(*reset_only, [c for c in chunks if c < 4]) == ([], [1, 3])
        assert run(*current, [c for c in chunks if c < 5]) == ([2], [4])
