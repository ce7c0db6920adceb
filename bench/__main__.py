"""Run every benchmark module of this package, or the ones named on the command line."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time

import bench


def main(argv: list[str]) -> int:
    """`python -m bench [NAME ...] [--flags for each]`: names select benchmarks, flags go to each."""
    chosen = [a for a in argv if not a.startswith("-")]
    flags = [a for a in argv if a.startswith("-")]
    names = chosen or sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_"))
    worst = 0
    for name in names:
        print(f"\n=== bench/{name} ===", flush=True)
        t0 = time.perf_counter()
        module = importlib.import_module(f"bench.{name}")
        rc = int(module.main(flags) or 0)
        print(f"--- bench/{name}: rc={rc}, {time.perf_counter() - t0:.1f} s", flush=True)
        worst = max(worst, rc)
    return worst


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
