"""Sweeps of the simulator: seeds spawned from one base seed, runs fanned out over local processes,
scenarios over --sweep values; the same document whatever the number of workers."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from fabgrid.errors import InputError
from fabgrid.services.simulation import SimulationOptions, parse_workers, scenarios, simulate
from fabgrid.sim.run import TIMED, spawn_seeds

SMALL = {"days": 2, "policy": "both", "parts": 4, "fast": True, "scale": 0.04}


def timeless(doc: Any) -> Any:
    """`doc` without its wall-clock times (the only values that may differ between two sweeps)."""
    if isinstance(doc, dict):
        return {k: timeless(v) for k, v in doc.items() if k not in TIMED}
    if isinstance(doc, list):
        return [timeless(v) for v in doc]
    return doc


def same(a: Any, b: Any) -> bool:
    """Equal apart from wall times, NaN equal to NaN (as JSON writes both)."""
    return json.dumps(timeless(a), sort_keys=True) == json.dumps(timeless(b), sort_keys=True)


def _options(sites: tuple[str, ...], **kw: Any) -> SimulationOptions:
    return SimulationOptions(**{**SMALL, "sites": ",".join(sites[:6]), **kw})


def test_seeds_are_spawned_from_the_base_seed() -> None:
    eight = spawn_seeds(7, 8)
    assert eight[:3] == spawn_seeds(7, 3)  # run i's seed depends on (base, i) only
    assert len(set(eight)) == 8 and eight != spawn_seeds(8, 8)
    children = np.random.SeedSequence(7).spawn(8)
    assert eight == [int(c.generate_state(1, np.uint32)[0]) for c in children]
    with pytest.raises(InputError, match="seed"):
        spawn_seeds(-1, 2)


def test_one_and_two_workers_give_the_same_table(sites: tuple[str, ...]) -> None:
    one = simulate(_options(sites, seed=3, seeds=3, workers=1)).doc
    two = simulate(_options(sites, seed=3, seeds=3, workers=2)).doc
    assert one["seeds"] == spawn_seeds(3, 3) and one["runs"] == 6
    assert [r["seed"] for r in one["per_seed"]["fabgrid"]] == one["seeds"]
    assert one["policies"]["traditional"]["orders"]["n"] == 3
    assert same(one, two)
    # the seeds differ from each other: the table is not one run repeated
    assert len({r["orders"] for r in one["per_seed"]["traditional"]}) > 1


def test_sweep_runs_every_scenario_with_one_library(sites: tuple[str, ...]) -> None:
    notes: list[str] = []
    doc = simulate(_options(sites, seed=1, seeds=2, workers=2, overrides=("fabgrid.horizon_days=5",),
                            sweeps=("fabgrid.batch_h=1,6",)), note=notes.append).doc
    assert [s["set"] for s in doc["scenarios"]] == [["fabgrid.batch_h=1"], ["fabgrid.batch_h=6"]]
    assert doc["scenarios"][0]["overrides"] == ["fabgrid.horizon_days=5", "fabgrid.batch_h=1"]
    assert doc["runs"] == 2 * 2 * 2 and doc["sweep"] == ["fabgrid.batch_h"]
    assert sum("part library" in n for n in notes) == 1  # the batch interval does not change the library
    trad = [s["per_seed"]["traditional"] for s in doc["scenarios"]]
    assert same(trad[0], trad[1])  # the traditional policy does not batch: same runs in both scenarios
    alone = simulate(_options(sites, seed=1, seeds=2, workers=1,
                              overrides=("fabgrid.horizon_days=5", "fabgrid.batch_h=6"))).doc
    assert same(alone["per_seed"], doc["scenarios"][1]["per_seed"])
    assert not same(doc["scenarios"][0]["per_seed"]["fabgrid"], doc["scenarios"][1]["per_seed"]["fabgrid"])


def test_scenarios_are_every_combination() -> None:
    got = scenarios(["a.b=1"], ["x.y=1,2", "z.w=[3, 4]"])
    assert got == [("a.b=1", "x.y=1", "z.w=3"), ("a.b=1", "x.y=1", "z.w=4"),
                   ("a.b=1", "x.y=2", "z.w=3"), ("a.b=1", "x.y=2", "z.w=4")]
    assert scenarios([], []) == [()]


@pytest.mark.parametrize(("sweep", "says"), [
    ("fabgrid.batch_h", "KEY=V1,V2"), ("fabgrid.batch_h=1,,2", "empty value"), ("fabgrid.batch_h=1,1", "twice"),
    ("fabgrid.batch_h=[1, 2", "YAML list")])
def test_bad_sweep_is_an_input_error(sweep: str, says: str) -> None:
    with pytest.raises(InputError, match=says):
        scenarios([], [sweep])


def test_bad_sweep_key_and_combinations(sites: tuple[str, ...], tmp_path: Any) -> None:
    with pytest.raises(InputError, match="unknown key"):
        simulate(_options(sites, sweeps=("fabgrid.nothing=1,2",)))
    with pytest.raises(InputError, match="--report"):
        simulate(_options(sites, sweeps=("fabgrid.batch_h=1,2",), report=tmp_path / "r.html"))
    with pytest.raises(InputError, match="swept twice"):
        scenarios([], ["a=1,2", "a=3"])


@pytest.mark.parametrize("raw", ["0", "65", "two", "-1", ""])
def test_bad_workers_is_an_input_error(raw: str) -> None:
    with pytest.raises(InputError, match="--workers"):
        parse_workers(raw)
    assert parse_workers("4") == 4 and parse_workers("Celery") == "celery"


def test_celery_without_a_broker_says_so(sites: tuple[str, ...]) -> None:
    with pytest.raises(InputError, match="FABGRID_BROKER_URL") as exc:
        simulate(_options(sites, workers="celery"))
    assert exc.value.hint is not None and "fabgrid worker --queues sim" in exc.value.hint


def test_cli_workers_and_sweep(capsys: pytest.CaptureFixture[str], sites: tuple[str, ...]) -> None:
    from fabgrid.cli import main

    args = ["simulate", "--days", "2", "--seed", "4", "--seeds", "2", "--sites", ",".join(sites[:6]),
            "--scale", "0.04", "--parts", "4", "--fast", "--sweep", "fabgrid.batch_h=2,4", "--json"]
    main([*args, "--workers", "2"])
    two = json.loads(capsys.readouterr().out)
    main([*args, "--workers", "1"])
    one = json.loads(capsys.readouterr().out)
    assert len(two["scenarios"]) == 2 and two["runs"] == 8
    assert same(one, two)
    with pytest.raises(SystemExit) as exit_:
        main([*args, "--workers", "zero"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --workers") and "hint: " in err


def test_worker_queues_option() -> None:
    from fabgrid.cli.worker import parse_queues

    assert parse_queues(None) == ["analysis", "planning", "dispatch", "notify", "sim"]
    assert parse_queues("analysis, planning,analysis") == ["analysis", "planning"]
    with pytest.raises(InputError, match="not a fabgrid queue"):
        parse_queues("analysis,two words")
    with pytest.raises(InputError, match="not a fabgrid queue"):
        parse_queues("sim,")
