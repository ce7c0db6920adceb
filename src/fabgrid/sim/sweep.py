"""Sweeps of the simulator: one run per (scenario, policy, seed), on this process or on several local
processes (a `ProcessPoolExecutor` whose workers each receive the setups once), results in task order.

A run depends on its setup, policy and seed only (`sim.run.spawn_seeds`), so the results are the same for
any number of processes. Never imports store, services, api, web or cli (services hand Celery runs in).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

from fabgrid.errors import InputError
from fabgrid.sim.run import Setup, run_policy

#: Most local processes one sweep starts (the machine's cores are the useful bound; this guards typos).
MAX_WORKERS = 64


@dataclass(frozen=True)
class RunTask:
    """One run of a sweep: the index of its scenario (setup), the policy and the spawned seed."""

    scenario: int
    policy: str
    seed: int


Runner = Callable[[Sequence[Setup], Sequence[RunTask], Callable[[int, int], None]], list[dict[str, Any]]]
"""Runs `tasks` against `setups`, calling ``progress(done, total)``; returns each task's metrics, in order."""

_setups: Sequence[Setup] = ()  # the setups of this worker process (set once by `_init`)


def _init(setups: Sequence[Setup]) -> None:
    global _setups
    _setups = setups


def _run(task: RunTask) -> dict[str, Any]:
    return run_policy(_setups[task.scenario], task.policy, task.seed)[1]


def run_local(setups: Sequence[Setup], tasks: Sequence[RunTask], workers: int,
              progress: Callable[[int, int], None] | None = None) -> list[dict[str, Any]]:
    """The metrics of each task, run one after the other here (``workers == 1``) or on `workers` processes.

    Worker processes come from a forkserver (no threads of this process are forked) with the simulator
    preloaded; each gets the setups once (pickled), then one task at a time."""
    if not 1 <= workers <= MAX_WORKERS:
        raise InputError(f"--workers must be 1..{MAX_WORKERS} or celery, got {workers}", code="sim.workers")
    tell = progress or (lambda _done, _total: None)
    n = len(tasks)
    if workers == 1 or n <= 1:
        out = []
        for i, t in enumerate(tasks):
            out.append(run_policy(setups[t.scenario], t.policy, t.seed)[1])
            tell(i + 1, n)
        return out
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["fabgrid.sim.sweep"])
    results: list[dict[str, Any] | None] = [None] * n
    with ProcessPoolExecutor(max_workers=min(workers, n), mp_context=ctx, initializer=_init,
                             initargs=(list(setups),)) as pool:
        futures = {pool.submit(_run, t): i for i, t in enumerate(tasks)}
        try:
            for done, fut in enumerate(as_completed(futures), start=1):
                results[futures[fut]] = fut.result()
                tell(done, n)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)  # a failed run (or ^C) ends the sweep
            raise
    return [r for r in results if r is not None]
