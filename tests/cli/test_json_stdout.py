"""`--json` commands print exactly one JSON document on stdout, even when a native library (HiGHS
prints diagnostics with printf) writes to file descriptor 1 meanwhile."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = """
import os
from fabgrid.cli._common import emit_json, json_stdout
with json_stdout():
    os.write(1, b"HighsMipSolverData::transformNewIntegerFeasibleSolution tmpSolver.run();\\n")
    print("python print")
    emit_json({"ok": True})
print("after")
"""


def test_native_output_goes_to_stderr_and_json_stays_alone_on_stdout() -> None:
    r = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=True)
    head, _, tail = r.stdout.partition("}\n")
    assert json.loads(head + "}") == {"ok": True} and tail == "after\n"
    assert "HighsMipSolverData" in r.stderr and "python print" in r.stderr


def test_a_real_json_command_through_the_entry_point() -> None:
    r = subprocess.run([sys.executable, "-m", "fabgrid.cli", "catalog", "processes", "--json"], capture_output=True,
                       text=True, timeout=120, check=True)
    assert json.loads(r.stdout)["processes"]
