"""Use case "analyse a part file": load it (limits, units), run the intake pipeline with the catalog's
process rules and the network's machine models, return the report the API, CLI and quote use.

Every failure is an `InputError` (a damaged or hostile file never raises anything else). Uploads are
analysed by `analyze_isolated`: in a child process with hard limits (RLIMIT_AS, RLIMIT_CPU, a wall-time
kill), so a pathological file costs one child, never the serving process. Reads the catalog through
`fabgrid.data` when none is handed in; no database needed. Called by services.parts and `fabgrid analyze`.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import threading
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from fabgrid.domain.catalog import Catalog, ProcessFamily
from fabgrid.domain.geometry import PartReport
from fabgrid.domain.part import Part
from fabgrid.errors import InputError, LimitError
from fabgrid.geometry import limits
from fabgrid.geometry.load import load_bytes, load_path
from fabgrid.geometry.report import Options, analyze_loaded

log = logging.getLogger(__name__)
#: Child analyses one process runs at once (more uploads wait their turn: the machine's cores are shared).
MAX_CHILDREN = max(1, min(4, (os.cpu_count() or 2) // 2))
_children = threading.BoundedSemaphore(MAX_CHILDREN)
_context_lock = threading.Lock()
_context: Any = None
#: Modules the analysis imports lazily (hull, ray casts, spatial index, the 3MF reader and lxml), imported once by
#: the forkserver so that a child does not import them again per upload (a missing optional one is skipped).
CHILD_PRELOAD = ("trimesh", "scipy.spatial", "scipy.special", "rtree", "embreex", "fabgrid.geometry.threemf")
#: Scheduling priority the analysis child lowers itself by.
CHILD_NICE = 10
#: The address space this process may add (set in an analysis child; named in the error).
_memory_limit = [limits.ANALYSIS_MEMORY_BYTES]


def _processes(catalog: Catalog, process: str | None) -> list[ProcessFamily]:
    if process is None:
        return list(catalog.processes)
    known = [p.value for p in catalog.processes]
    key = process.strip().lower()
    if key not in known:
        raise InputError(f"process {process!r} is not a process of the catalog",
                         hint=f"use one of: {', '.join(known)}", code="analysis.unknown_process")
    return [ProcessFamily(key)]


def analyze_file(path_or_bytes: str | Path | bytes, filename: str | None = None, process: str | None = None,
                 units: str | None = None, repair: bool = False, per_body: bool = False,
                 catalog: Catalog | None = None, time_budget_s: float = limits.ANALYSIS_TIME_S,
                 thickness_samples: int = limits.THICKNESS_SAMPLES, auto_repair: bool = False,
                 guess_units: bool = False) -> PartReport:
    """Analyse a part given as a path or as bytes (then `filename` names it and gives its format).

    `process` restricts DFM to one process family (default: every process of the catalog); `units`
    (mm, inch, m, cm, um) overrides the file's unit; `repair` fixes simple defects first and reports
    them; `per_body` adds one report per body; `auto_repair` repairs the mesh where that is safe
    (`geometry.repair.auto_repair`, reported in `auto_repair`); `guess_units` reads a unit-less file that is
    implausibly small in mm in the unit its size makes plausible (`geometry.load.load_bytes`). Raises
    InputError / LimitError on bad input.
    """
    return analyze_with_part(path_or_bytes, filename, process, units, repair, per_body, catalog, time_budget_s,
                             thickness_samples, auto_repair, guess_units)[0]


def analyze_with_part(path_or_bytes: str | Path | bytes, filename: str | None = None, process: str | None = None,
                      units: str | None = None, repair: bool = False, per_body: bool = False,
                      catalog: Catalog | None = None, time_budget_s: float = limits.ANALYSIS_TIME_S,
                      thickness_samples: int = limits.THICKNESS_SAMPLES,
                      auto_repair: bool = False, guess_units: bool = False) -> tuple[PartReport, Part]:
    """`analyze_file` that also returns the loaded part (with the facts the analysis computed on it), for
    a caller that goes on to quote it without loading the file again."""
    if catalog is None:
        from fabgrid.data import load_catalog

        catalog = load_catalog()
    families = _processes(catalog, process)
    name = filename or (Path(path_or_bytes).name if not isinstance(path_or_bytes, bytes | bytearray) else "part")
    try:
        return _analyze(path_or_bytes, filename, families, units, repair, per_body, catalog, time_budget_s,
                        thickness_samples, auto_repair, guess_units)
    except InputError:
        raise
    except MemoryError:
        raise _memory_error(name) from None
    except Exception as exc:  # a file no check foresaw: still a clear error, never a traceback
        log.debug("analysis of %s failed", name, exc_info=True)
        raise InputError(f"{name}: the part cannot be analysed ({type(exc).__name__}: {str(exc)[:200]})",
                         hint="the file is damaged or degenerate: repair it or export it again",
                         code="analysis.failed") from None


def _memory_error(name: str, memory_bytes: int | None = None) -> LimitError:
    mib = (memory_bytes or _memory_limit[0]) / 2**20
    return LimitError(f"{name}: analysis needs more than the {mib:,.0f} MiB of memory it may use",
                      hint="decimate the mesh or split the part into several files", code="limit.memory")


def _analyze(path_or_bytes: str | Path | bytes, filename: str | None, families: list[ProcessFamily],
             units: str | None, repair: bool, per_body: bool, catalog: Catalog, time_budget_s: float,
             thickness_samples: int, auto_repair: bool = False,
             guess_units: bool = False) -> tuple[PartReport, Part]:
    if isinstance(path_or_bytes, bytes | bytearray):
        if not filename:
            raise InputError("a part given as bytes needs its filename (for the format)",
                             hint="pass filename='part.stl'", code="mesh.filename")
        name = filename
        budget = limits.Budget(time_budget_s, name)
        mesh = load_bytes(bytes(path_or_bytes), filename, units=units, guess=guess_units)
    else:
        name = filename or Path(path_or_bytes).name
        budget = limits.Budget(time_budget_s, name)
        mesh = load_path(path_or_bytes, units=units, guess=guess_units)
        mesh.name = name
    load_s = budget.elapsed_s()
    budget.check("load")
    outcome = None
    if auto_repair and not repair:
        from fabgrid.geometry.repair import auto_repair_part

        mesh, outcome = auto_repair_part(mesh)
        budget.check("repair")
    procs = [catalog.processes[f] for f in families]
    machines = [m for m in catalog.machine_models.values() if m.process in families]
    opts = Options(repair=repair, per_body=per_body, thickness_samples=thickness_samples)
    report = analyze_loaded(mesh, procs, machines, opts, budget)
    extra: dict[str, Any] = {}
    if outcome is not None:
        extra = {"auto_repair": outcome, "repairs": outcome.notes if outcome.applied else report.repairs}
    return report.model_copy(update={**extra, "timings_s": {"load": load_s, **report.timings_s,
                                                            "total": budget.elapsed_s()}}), mesh


# ---------------------------------------------------------------- the isolated child


def _mp_context() -> Any:
    """The forkserver context (a fork of a small, single-threaded server that imported this module once:
    cheap per child, and safe from a threaded web process, which `fork` is not)."""
    global _context
    with _context_lock:
        if _context is None:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["fabgrid.services.analysis", *CHILD_PRELOAD, *_main_script_imports(),
                                        "fabgrid.services.analysis_warm"])
            _context = ctx
        return _context


def _main_script_imports() -> list[str]:
    """The modules a main *script* (`fabgrid serve`, `pytest`) imports at its top level, that this process
    has imported. Each child runs the main script again (multiprocessing's "main module" fix-up; a module
    run with -m is exempt): with its imports already in the forkserver that re-run costs nothing, instead
    of a CLI's whole import per upload."""
    import ast

    main = sys.modules.get("__main__")
    if getattr(getattr(main, "__spec__", None), "name", None) is not None:
        return []
    try:
        path = Path(str(getattr(main, "__file__", "")))
        if not path.is_file() or path.stat().st_size > 1_000_000:
            return []
        tree = ast.parse(path.read_bytes())
    except (OSError, SyntaxError, ValueError):
        return []
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
    return [n for n in dict.fromkeys(names) if n in sys.modules]


def _set_limits(cpu_s: float, memory_bytes: int) -> None:
    """Hard limits of the child: CPU seconds (SIGXCPU, then SIGKILL 5 s later), address space added to what
    the child already maps (a failed allocation is a MemoryError), and a lower priority than the server's."""
    import resource

    cpu = int(cpu_s) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    os.nice(CHILD_NICE)  # the serving process keeps the CPU it needs to answer while a child analyses
    try:
        with open("/proc/self/statm") as fh:
            mapped = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        mapped = 0
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = mapped + memory_bytes
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


def _error_doc(exc: InputError) -> dict[str, Any]:
    return {"message": exc.message, "hint": exc.hint, "code": exc.code, "status": exc.status}


def _child(conn: Connection, data: bytes, filename: str, units: str | None, catalog: Catalog,
           time_budget_s: float, memory_bytes: int, grace_s: float, auto_repair: bool = False,
           guess_units: bool = False) -> None:
    """The child's work: limits first, then the analysis; one message back (the result or the error)."""
    try:
        _memory_limit[0] = memory_bytes
        _set_limits(time_budget_s + grace_s, memory_bytes)
        report, part = analyze_with_part(data, filename=filename, units=units, catalog=catalog,
                                         time_budget_s=time_budget_s, auto_repair=auto_repair,
                                         guess_units=guess_units)
        try:
            conn.send(("ok", report, part))
        except Exception:  # something the engines cached on the part does not pickle: the report alone
            conn.send(("ok", report, None))
    except InputError as exc:
        conn.send(("error", _error_doc(exc)))
    except MemoryError:
        conn.send(("error", _error_doc(_memory_error(filename, memory_bytes))))
    finally:
        conn.close()


def analyze_isolated(data: bytes, filename: str, units: str | None = None, catalog: Catalog | None = None,
                     time_budget_s: float = limits.ANALYSIS_TIME_S,
                     memory_bytes: int = limits.ANALYSIS_MEMORY_BYTES,
                     grace_s: float = limits.ANALYSIS_GRACE_S,
                     auto_repair: bool = False, guess_units: bool = False) -> tuple[PartReport, Part | None]:
    """`analyze_with_part` of an untrusted file in a child process with hard limits: CPU seconds and
    wall time of `time_budget_s + grace_s`, `memory_bytes` of address space. A child that
    runs over, runs out or dies is a LimitError / InputError; the caller's process is never at risk.

    Returns the report and the loaded part (None when the part could not be sent back)."""
    if catalog is None:
        from fabgrid.data import load_catalog

        catalog = load_catalog()
    ctx = _mp_context()
    with _children:
        recv, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_child, args=(send, bytes(data), filename, units, catalog, time_budget_s,
                                                memory_bytes, grace_s, auto_repair, guess_units), daemon=True,
                           name="fabgrid-analysis")
        proc.start()
        send.close()
        try:
            wall_s = time_budget_s + grace_s
            message = recv.recv() if recv.poll(wall_s) else None
        except (EOFError, OSError):
            message = None
        finally:
            recv.close()
            if message is None and proc.is_alive():
                proc.kill()
            proc.join(5)
            if proc.is_alive():  # pragma: no cover - a child that ignores SIGKILL is the kernel's problem
                proc.kill()
    if message is None:
        raise _died(filename, proc.exitcode, time_budget_s)
    if message[0] == "error":
        doc = message[1]
        cls = LimitError if doc["status"] == 413 else InputError
        err = cls(doc["message"], hint=doc["hint"], code=doc["code"])
        err.status = doc["status"]
        raise err
    return message[1], message[2]


def _died(filename: str, exitcode: int | None, time_budget_s: float) -> InputError:
    import signal

    if exitcode in (None, -signal.SIGKILL, -signal.SIGXCPU):
        return LimitError(f"{filename}: analysis took more than {time_budget_s:.0f} s and was stopped",
                          hint="simplify the mesh (fewer triangles) or split the part into several files",
                          code="limit.time")
    log.warning("analysis child of %s ended with exit code %s", filename, exitcode)
    return InputError(f"{filename}: the analysis stopped without a result (exit code {exitcode})",
                      hint="the file is damaged or degenerate: repair it or export it again",
                      code="analysis.crashed")
