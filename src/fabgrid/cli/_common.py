"""Helpers shared by the CLI modules: JSON output, tables, errors.

Must not import engines at module level (keeps `fabgrid --help` fast).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Any, NoReturn

from rich.console import Console
from rich.table import Table

console = Console()
err_console = Console(stderr=True)


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
    sys.stdout.write(json.dumps(document, default=_default, ensure_ascii=False, indent=2))
    sys.stdout.write("\n")
    sys.stdout.flush()


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
