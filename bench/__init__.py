"""fabgrid benchmarks: `python -m bench [NAME ...]` (or `make bench`).

Each module here defines ``main(argv) -> int``, prints a table with ratios against a reference
measured in the same run, and names the data set it used.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def shared_benchmarks() -> Path | None:
    """The third-party benchmark folder (../shared/benchmarks or $FABGRID_BENCHMARKS), if present."""
    env = os.environ.get("FABGRID_BENCHMARKS")
    path = Path(env) if env else ROOT.parent / "shared" / "benchmarks"
    if path.is_dir():
        return path
    print(f"skipped: {path} not found (../shared/benchmarks)")
    return None
