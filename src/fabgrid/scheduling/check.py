"""Independent schedule checker: verifies a schedule against its problem and recomputes the objectives.

Written apart from the solver and the dispatch rules (it shares only the problem records), so a bug
there cannot hide here. Checks: every operation once, allowed resource and duration, precedence,
release times, no overlap per resource, changeovers, down-times, work windows (shifts), horizon.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from fabgrid.domain.schedule import ScheduledOperation
from fabgrid.scheduling.problem import Problem


@dataclass(frozen=True)
class CheckReport:
    """Violations found (empty when the schedule is valid) and the objectives recomputed."""

    violations: tuple[str, ...]
    makespan: int
    weighted_tardiness: int

    @property
    def ok(self) -> bool:
        """True when no rule is broken."""
        return not self.violations


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _in_one_window(windows: Sequence[tuple[int, int]], starts: Sequence[int], s: int, e: int) -> bool:
    i = bisect.bisect_right(starts, s) - 1
    return i >= 0 and windows[i][0] <= s and e <= windows[i][1] and s < windows[i][1]


def check_schedule(problem: Problem, operations: Sequence[ScheduledOperation],
                   max_violations: int = 50) -> CheckReport:
    """Check ``operations`` against ``problem``; returns every violation found (up to a cap)."""
    bad: list[str] = []
    seen: dict[tuple[int, int], ScheduledOperation] = {}
    for o in operations:
        key = (o.job, o.index)
        if not (0 <= o.job < len(problem.jobs) and 0 <= o.index < len(problem.jobs[o.job].operations)):
            bad.append(f"job {o.job} operation {o.index} does not exist")
        elif key in seen:
            bad.append(f"job {o.job} operation {o.index} is scheduled twice")
        else:
            seen[key] = o
    for j, job in enumerate(problem.jobs):
        for k in range(len(job.operations)):
            if (j, k) not in seen:
                bad.append(f"job {j} operation {k} is not scheduled")
    windows = sorted(problem.work_windows) if problem.work_windows is not None else None
    starts = [w[0] for w in windows] if windows is not None else []
    horizon = problem.horizon
    by_resource: dict[int, list[ScheduledOperation]] = {}
    for (j, k), o in sorted(seen.items()):
        op = problem.jobs[j].operations[k]
        tag = f"job {j} operation {k}"
        durations = {a.duration for a in op.alternatives if a.resource == o.machine}
        if not durations:
            bad.append(f"{tag} runs on resource {o.machine}, which is not one of its alternatives")
        elif o.end - o.start not in durations:
            bad.append(f"{tag} lasts {o.end - o.start}, expected {sorted(durations)}")
        if o.start < problem.jobs[j].release:
            bad.append(f"{tag} starts at {o.start}, before the job's release {problem.jobs[j].release}")
        if k > 0 and (j, k - 1) in seen and o.start < seen[(j, k - 1)].end:
            bad.append(f"{tag} starts at {o.start}, before operation {k - 1} ends at {seen[(j, k - 1)].end}")
        if horizon is not None and o.end > horizon:
            bad.append(f"{tag} ends at {o.end}, after the horizon {horizon}")
        if windows is not None and op.staffed and not _in_one_window(windows, starts, o.start, o.end):
            bad.append(f"{tag} [{o.start}, {o.end}) needs an operator but is not inside one shift")
        if windows is not None and op.start_staffed and not _in_one_window(windows, starts, o.start,
                                                                            o.start + 1):
            bad.append(f"{tag} starts at {o.start}, outside every shift")
        if o.machine is not None and 0 <= o.machine < len(problem.resources):
            by_resource.setdefault(o.machine, []).append(o)
            for d in problem.resources[o.machine].down:
                if _overlaps((o.start, o.end), d):
                    bad.append(f"{tag} [{o.start}, {o.end}) overlaps down-time {d} of resource {o.machine}")
    for r, ops in by_resource.items():
        ops.sort(key=lambda o: (o.start, o.end))
        for a, b in itertools.pairwise(ops):
            fa = problem.jobs[a.job].operations[a.index].family
            fb = problem.jobs[b.job].operations[b.index].family
            gap = 0 if fa is None or fb is None or fa == fb else problem.setup.get((fa, fb), 0)
            if b.start < a.end:
                bad.append(f"resource {r}: job {a.job} op {a.index} [{a.start}, {a.end}) overlaps "
                           f"job {b.job} op {b.index} [{b.start}, {b.end})")
            elif b.start < a.end + gap:
                bad.append(f"resource {r}: changeover {fa} -> {fb} needs {gap}, only {b.start - a.end} "
                           f"between job {a.job} op {a.index} and job {b.job} op {b.index}")
    makespan = max((o.end for o in seen.values()), default=0)
    done: dict[int, int] = {}
    for (j, _k), o in seen.items():
        order = problem.jobs[j].order
        if order is not None:
            done[order] = max(done.get(order, 0), o.end)
    wt = sum(problem.orders[o].weight * max(0, c - problem.orders[o].due) for o, c in done.items())
    return CheckReport(tuple(bad[:max_violations]), makespan, wt)
