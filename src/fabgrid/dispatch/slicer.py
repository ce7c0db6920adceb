"""PrusaSlicer's command line: a build's models (STL/3MF) and a machine's exported .ini profile in, binary-free
G-code out. A missing slicer is an InputError naming the Debian package (`prusa-slicer`); a slicer failure
names its last output lines.

Depends on the standard library and fabgrid.errors only.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from fabgrid.errors import InputError

_TIME = re.compile(r"^; estimated printing time \(normal mode\) = (.+)$", re.M)
_UNIT_S = {"d": 86400, "h": 3600, "m": 60, "s": 1}

#: Seconds PrusaSlicer may take for one build before it is stopped.
SLICE_TIMEOUT_S = 600.0


def find_slicer(explicit: str | None = None) -> str:
    """The prusa-slicer executable (`explicit`, else on PATH); InputError naming the package when absent."""
    exe = shutil.which(explicit or "prusa-slicer")
    if exe is None:
        raise InputError(f"PrusaSlicer ({explicit or 'prusa-slicer'}) is not installed, so FDM builds cannot be "
                         "sliced", hint="install it: `apt-get install prusa-slicer` (Debian/Ubuntu package "
                         "prusa-slicer), or give its path in FABGRID_PRUSA_SLICER", code="dispatch.no_slicer")
    return exe


def slice_gcode(models: Sequence[Path], profile_ini: str, out: Path, *, slicer: str | None = None,
                timeout_s: float = SLICE_TIMEOUT_S) -> Path:
    """Slice `models` (placed as they are: a build's 3MF keeps its placements) with `profile_ini` into `out`."""
    exe = find_slicer(slicer)
    ini = out.with_suffix(".ini")
    ini.write_text(profile_ini, encoding="utf-8")
    cmd = [exe, "--export-gcode", "--load", str(ini), "--dont-arrange", "--output", str(out),
           *(str(m) for m in models)]
    try:
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise InputError(f"PrusaSlicer took more than {timeout_s:g} s on {', '.join(m.name for m in models)}",
                         hint="split the build into smaller ones", code="dispatch.slicer_failed") from None
    if run.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
        tail = " | ".join((run.stderr or run.stdout).strip().splitlines()[-3:])
        raise InputError(f"PrusaSlicer failed on {', '.join(m.name for m in models)} (exit {run.returncode}): "
                         f"{tail or 'no output'}", hint="check that the parts fit the machine's bed and are "
                         "closed meshes", code="dispatch.slicer_failed")
    return out


def estimated_time_s(gcode: Path) -> float | None:
    """PrusaSlicer's own print-time estimate written into the G-code (``1d 2h 3m 4s``), or None without one."""
    with gcode.open("rb") as fh:
        fh.seek(max(0, gcode.stat().st_size - 65536))
        tail = fh.read().decode("utf-8", "replace")
    m = _TIME.search(tail)
    if m is None:
        return None
    parts = re.findall(r"(\d+)([dhms])", m.group(1))
    return float(sum(int(n) * _UNIT_S[u] for n, u in parts)) if parts else None
