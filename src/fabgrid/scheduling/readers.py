"""Readers for standard scheduling instance files: JSPLIB / OR-Library job shop and Brandimarte .fjs.

Both return a `Problem` with machines numbered from 0 (an .fjs file numbers them from 1).
Bad files raise `InputError` naming the file and line. Depends only on problem and errors.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fabgrid.errors import InputError
from fabgrid.scheduling.problem import Problem, flexible_jobshop, jobshop

MAX_OPERATIONS = 200_000


def _bad(name: str, line: int | None, what: str, hint: str, code: str = "schedule.instance") -> InputError:
    where = f"{name}:{line}" if line is not None else name
    return InputError(f"{where}: {what}", hint=hint, code=code)


def _int_lines(text: str, name: str, hint: str) -> list[tuple[int, list[int]]]:
    """Non-empty, non-comment lines as ``(line number, integers)``; '#' starts a comment."""
    out: list[tuple[int, list[int]]] = []
    for no, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            out.append((no, [int(tok) for tok in line.split()]))
        except ValueError:
            bad = next(t for t in line.split() if not t.lstrip("-").isdigit())
            raise _bad(name, no, f"expected integers, found {bad!r}", hint) from None
    return out


_JSPLIB_HINT = ("JSPLIB format: first line `jobs machines`, then one line per job with the pairs "
                "`machine duration` (machines from 0); lines starting with # are comments")
_FJS_HINT = ("Brandimarte .fjs format: first line `jobs machines [average]`, then per job `n` followed by, "
             "for each of its n operations, `k` and k pairs `machine duration` (machines from 1)")


def _header(rows: list[tuple[int, list[int]]], name: str, hint: str) -> tuple[int, int]:
    if not rows:
        raise _bad(name, None, "no data (empty or only comments)", hint)
    no, head = rows[0]
    if len(head) < 2 or head[0] <= 0 or head[1] <= 0:
        raise _bad(name, no, f"the first line must give `jobs machines` > 0, found {head}", hint)
    if head[0] * head[1] > MAX_OPERATIONS:
        raise InputError(f"{name}: {head[0]} jobs x {head[1]} machines is over the limit of "
                         f"{MAX_OPERATIONS} operations", hint="split the instance", code="schedule.too_large")
    return head[0], head[1]


def _check_pair(name: str, no: int, machine: int, duration: int, num_machines: int, hint: str,
                base: int) -> None:
    if not base <= machine < num_machines + base:
        raise _bad(name, no, f"machine {machine} is outside {base}..{num_machines - 1 + base}", hint)
    if duration < 0:
        raise _bad(name, no, f"duration {duration} is negative", hint)


def _job_lines(rows: list[tuple[int, list[int]]], n_jobs: int, name: str, hint: str) -> list[tuple[int, list[int]]]:
    """The job lines after the header: exactly the `n_jobs` it announces."""
    body = rows[1:]
    if len(body) < n_jobs:
        raise _bad(name, None, f"the header announces {n_jobs} jobs but {len(body)} job lines follow", hint)
    if len(body) > n_jobs:
        raise _bad(name, body[n_jobs][0], f"more lines than the {n_jobs} jobs announced", hint)
    return body


def parse_jsplib(text: str, name: str = "instance") -> Problem:
    """Parse a JSPLIB / OR-Library job-shop instance (``jobs machines`` then ``machine duration`` pairs)."""
    rows = _int_lines(text, name, _JSPLIB_HINT)
    n_jobs, n_machines = _header(rows, name, _JSPLIB_HINT)
    body = _job_lines(rows, n_jobs, name, _JSPLIB_HINT)
    routes: list[list[tuple[int, int]]] = []
    for no, vals in body:
        if len(vals) != 2 * n_machines:
            raise _bad(name, no, f"expected {n_machines} `machine duration` pairs ({2 * n_machines} "
                       f"numbers), found {len(vals)} numbers", _JSPLIB_HINT)
        route = list(zip(vals[0::2], vals[1::2], strict=True))
        for m, d in route:
            _check_pair(name, no, m, d, n_machines, _JSPLIB_HINT, 0)
        routes.append(route)
    return jobshop(name, routes, n_machines)


def parse_fjs(text: str, name: str = "instance") -> Problem:
    """Parse a Brandimarte .fjs flexible job-shop instance; machines are renumbered from 0."""
    rows = _int_lines(text, name, _FJS_HINT)
    n_jobs, n_machines = _header(rows, name, _FJS_HINT)
    body = _job_lines(rows, n_jobs, name, _FJS_HINT)
    routes: list[list[list[tuple[int, int]]]] = []
    for no, vals in body:
        pos, route = 1, []
        n_ops = vals[0]
        if n_ops <= 0:
            raise _bad(name, no, f"a job needs at least one operation, found {n_ops}", _FJS_HINT)
        for _ in range(n_ops):
            if pos >= len(vals) or vals[pos] <= 0:
                raise _bad(name, no, "an operation needs a count k >= 1 of machine choices", _FJS_HINT)
            k = vals[pos]
            pairs = vals[pos + 1: pos + 1 + 2 * k]
            if len(pairs) != 2 * k:
                raise _bad(name, no, f"the line ends inside an operation ({k} choices announced)", _FJS_HINT)
            choices = list(zip(pairs[0::2], pairs[1::2], strict=True))
            for m, d in choices:
                _check_pair(name, no, m, d, n_machines, _FJS_HINT, 1)
            if len({m for m, _ in choices}) != len(choices):
                raise _bad(name, no, "an operation lists one machine twice", _FJS_HINT)
            route.append([(m - 1, d) for m, d in choices])
            pos += 1 + 2 * k
        if pos != len(vals):
            raise _bad(name, no, f"{len(vals) - pos} numbers left after the {n_ops} operations", _FJS_HINT)
        routes.append(route)
    return flexible_jobshop(name, routes, n_machines)


READERS: dict[str, Callable[[str, str], Problem]] = {"jsplib": parse_jsplib, "fjs": parse_fjs}


def read_instance(path: str | Path, fmt: str) -> Problem:
    """Read an instance file in format ``fmt`` (one of `READERS`)."""
    p = Path(path)
    reader = READERS.get(fmt)
    if reader is None:
        raise InputError(f"unknown instance format {fmt!r}", hint=f"use one of {sorted(READERS)}",
                         code="schedule.format")
    if not p.is_file():
        raise InputError(f"{p}: no such file", hint="give the path of an instance file",
                         code="schedule.instance_missing")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise _bad(p.name, None, "is not a text file", _FJS_HINT if fmt == "fjs" else _JSPLIB_HINT) from None
    return reader(text, p.name)
