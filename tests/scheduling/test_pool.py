"""A machine pool's queued builds as a problem, sequenced by the dispatch rules (scheduling.pool)."""

from __future__ import annotations

import pytest

from fabgrid.errors import InputError
from fabgrid.scheduling.check import check_schedule
from fabgrid.scheduling.pool import QueuedBuild, pool_problem, sequence_builds

# One machine; A is long and due first, B short, due a little later and ten times as heavy.
LONG_FIRST = QueuedBuild(print_min=600, due=600, weight=1, name="A")
SHORT_HEAVY = QueuedBuild(print_min=60, due=650, weight=10, name="B")


def test_pool_problem_machines_and_jobs() -> None:
    p = pool_problem([LONG_FIRST, SHORT_HEAVY, QueuedBuild(30, 100, after_min=45)], [0, 120, 50, 400, 999])
    assert len(p.resources) == 3  # only as many machines as builds, the earliest-free ones
    assert [r.down for r in p.resources] == [(), ((0, 50),), ((0, 120),)]
    assert [len(j.operations) for j in p.jobs] == [1, 1, 2]
    assert all(len(j.operations[0].alternatives) == 3 for j in p.jobs)
    assert [o.due for o in p.orders] == [600, 650, 100] and p.orders[1].weight == 10
    with pytest.raises(InputError):
        pool_problem([], [0])
    with pytest.raises(InputError):
        pool_problem([LONG_FIRST], [])


def test_engine_order_differs_from_edd_where_it_is_better() -> None:
    edd = sequence_builds([LONG_FIRST, SHORT_HEAVY], [0], rules=("EDD",))
    assert edd.order == (0, 1) and edd.schedule.weighted_tardiness == 10 * 10
    best = sequence_builds([LONG_FIRST, SHORT_HEAVY], [0])  # ATC and EDD, the better schedule wins
    assert best.order == (1, 0)
    assert best.schedule.solver == "dispatch:ATC" and best.schedule.weighted_tardiness == 60
    assert check_schedule(best.problem, best.schedule.operations).ok


def test_busy_machines_and_ties_follow_the_rule() -> None:
    builds = [QueuedBuild(100, 5000, name="late"), QueuedBuild(100, 200, name="soon"), QueuedBuild(100, 300)]
    seq = sequence_builds(builds, [0, 0, 500], rules=("EDD",))
    # two machines free now: both start at 0, in the rule's priority (due 200 before 300); then the third
    assert seq.order == (1, 2, 0)
    starts = {o.job: o.start for o in seq.schedule.operations}
    assert starts[1] == starts[2] == 0 and starts[0] == 100
