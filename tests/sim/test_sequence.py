"""The fabgrid policy sequences each machine pool with the scheduling engine; closures interrupt builds."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from fabgrid.domain.catalog import Network
from fabgrid.domain.sim import SimParams
from fabgrid.scheduling import pool as engine
from fabgrid.sim import sequence
from fabgrid.sim.config import override, parse_disruptions
from fabgrid.sim.library import Library
from fabgrid.sim.metrics import kpi_table
from fabgrid.sim.model import Line, Pool, World
from fabgrid.sim.policies import Fabgrid
from fabgrid.sim.run import Setup, build_world, run_policy

CNC_MODEL = "vmc850"


def _cnc_world(network: Network, params: SimParams, library: Library) -> tuple[World, Pool]:
    """A world (not run) and a CNC pool whose queue holds: one long line of a part due first, and eight
    short lines of another part due a little later (two builds: CNC groups one part per build)."""
    parts = [i for i, p in enumerate(library.parts) if CNC_MODEL in p.models]
    assert len(parts) >= 2, "the test library needs two CNC parts"
    site = next(s for s in sorted(network.sites)
                if any(network.machine_model(m).id == CNC_MODEL for m in network.sites[s].machines))
    world = build_world(Setup(network, params, library, 2, sites=(site,), rate_scale=0.01), "fabgrid", 1)
    pool = world.pools[f"{site}/{CNC_MODEL}"]
    long_p, short_p = sorted(parts[:2], key=lambda i: -library.parts[i].models[CNC_MODEL].marginal_h)
    mat = {i: library.parts[i].material for i in (long_p, short_p)}
    transit_h = 24.0 * float(world.transit_days[world.site_index[site], int(world.orders.city[0])])
    long_h = library.parts[long_p].models[CNC_MODEL].marginal_h * 10
    pool.queue = [Line(0, long_p, 10, transit_h + long_h + 1.0, mat[long_p])]
    pool.queue += [Line(0, short_p, 2, transit_h + long_h + 1.5, mat[short_p]) for _ in range(8)]
    pool.version += 1
    return world, pool


def _first_build(world: World, pool: Pool) -> list[Line]:
    return Fabgrid(world).sequencer.build(world, pool)


def test_fabgrid_takes_the_engines_first_build_not_edd(network: Network, params: SimParams,
                                                       library: Library) -> None:
    world, pool = _cnc_world(network, params, library)
    cands = sequence.candidate_builds(world, pool, 40, 12)
    assert len(cands) == 2 and len(cands[0]) == 1  # EDD's lead: the long line due first
    expect = engine.sequence_builds([sequence.queued_build(world, pool, b) for b in cands],
                                    [0] * len(pool.machines), rules=params.fabgrid.sequencing.rules)
    assert expect.order[0] == 1  # the engine starts the heavy short build first
    got = _first_build(world, pool)
    assert [(ln.part, ln.qty) for ln in got] == [(ln.part, q) for ln, q in cands[expect.order[0]]]
    assert world.rec.sequencing_plans == 1
    # with EDD as the only rule the engine's order is EDD's, and the policy follows it
    edd = override(params, ["fabgrid.sequencing.rules=[EDD]"])
    world, pool = _cnc_world(network, edd, library)
    assert [(ln.part, ln.qty) for ln in _first_build(world, pool)] == [(cands[0][0][0].part, 10)]


def test_fabgrid_run_follows_the_engines_order(network: Network, params: SimParams, library: Library,
                                              sites: tuple[str, ...], monkeypatch: pytest.MonkeyPatch) -> None:
    setup = Setup(network, params, library, 3, sites=sites, rate_scale=0.15)
    w_plain, plain = run_policy(setup, "fabgrid", 2)
    calls: list[int] = []

    def reversed_engine(*args: Any, **kwargs: Any) -> engine.PoolSequence:
        seq = engine.sequence_builds(*args, **kwargs)
        calls.append(len(seq.order))
        return engine.PoolSequence(seq.order[::-1], seq.schedule, seq.problem)

    monkeypatch.setattr(sequence, "sequence_builds", reversed_engine)
    w_flipped, flipped = run_policy(setup, "fabgrid", 2)
    assert plain["sequencing_plans"] > 0 and flipped["sequencing_plans"] == len(calls) > 0
    assert any(n > 1 for n in calls)
    # the engine's order is what the machines run: reversing it changes which builds start when
    assert w_flipped.rec.build_log != w_plain.rec.build_log


@pytest.mark.parametrize("policy", ["traditional", "fabgrid"])
def test_closure_interrupts_running_builds(network: Network, params: SimParams, library: Library,
                                           sites: tuple[str, ...], policy: str) -> None:
    closed = "cs-jingkai-01"
    setup = Setup(network, params, library, 4, parse_disruptions(f"site:{closed}:closed:day1-1", network, 4),
                  sites=sites, rate_scale=0.3)
    world, m = run_policy(setup, policy, 1)
    assert m["builds_interrupted"] > 0 and m["units_interrupted"] > 0
    idx = [i for i, s in enumerate(world.machine_site) if s == closed]
    el = kpi_table(world).elements["machine"]
    assert float((el["apt_s"][idx, 1] + el["asut_s"][idx, 1]).sum()) == 0.0  # nothing runs on day 1
    assert np.allclose(el["offline_s"][idx, 1], 86400.0)
    assert m["parts_scrap"] >= m["units_interrupted"]
    assert (world.units_left >= 0).all()
    assert m["orders"] == m["orders_delivered"] + m["orders_in_progress"] + m["orders_lost"]
    assert 0 < m["oee"] <= 1
