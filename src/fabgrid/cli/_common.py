"""Helpers shared by the CLI modules: JSON output, tables, errors.

Must not import engines at module level (keeps `fabgrid --help` fast).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Any, NoReturn, TextIO

from rich.console import Console
from rich.table import Table

console = Console()
err_console = Console(stderr=True)
#: where `emit_json` writes while `json_stdout` holds file descriptor 1 for native output
_json_stream: TextIO | None = None


@contextmanager
def json_stdout() -> Iterator[None]:
    """Keep stdout for the one JSON document of a ``--json`` command: while the command runs, file
    descriptor 1 points at stderr (native solvers such as HiGHS print diagnostics with printf), and
    `emit_json` writes to the real stdout. Does nothing when stdout is not a file descriptor
    (e.g. captured in tests)."""
    global _json_stream
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        fd = -1
    if fd != 1 or _json_stream is not None:
        yield
        return
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    _json_stream = os.fdopen(os.dup(saved), "w", encoding="utf-8")
    try:
        yield
    finally:
        stream, _json_stream = _json_stream, None
        try:
            sys.stdout.flush()
            stream.close()
        except BrokenPipeError:  # the reader went away (e.g. `| head`): nothing more to say
            pass
        os.dup2(saved, 1)
        os.close(saved)


def _default(o: object) -> Any:
    if isinstance(o, datetime | date):
        return o.isoformat()
    if isinstance(o, Enum):
        return o.value
    if isinstance(o, Path):
        return str(o)
    if hasattr(o, "model_dump"):
        return o.model_dump(mode="json")
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, set | frozenset | tuple):
        return list(o)
    raise TypeError(f"cannot serialise {type(o).__name__} to JSON")


def emit_json(document: object) -> None:
    """Print one JSON document on stdout."""
    out = _json_stream or sys.stdout
    out.write(json.dumps(document, default=_default, ensure_ascii=False, indent=2))
    out.write("\n")
    out.flush()


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """Print a readable table on stdout."""
    t = Table(title=title, show_lines=False)
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*("" if v is None else str(v) for v in r))
    console.print(t)


def fail(message: str, hint: str | None) -> NoReturn:
    """Print ``error: message`` (and ``hint: ...``) on stderr and exit 2."""
    sys.stderr.write(f"error: {message}\n")
    if hint:
        sys.stderr.write(f"hint: {hint}\n")
    sys.stderr.flush()
    sys.exit(2)
