"""CP-SAT (scheduling) and HiGHS (allocation) must work in one process, loaded in either order.

Both wheels carry a `libhighs.so.1`; the server runs schedules and reroutes side by side.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

CPSAT = ("from ortools.sat.python import cp_model\n"
         "m = cp_model.CpModel(); x = m.new_int_var(0, 3, 'x'); m.maximize(x)\n"
         "assert cp_model.CpSolver().solve(m) == cp_model.OPTIMAL\n")
HIGHS = ("import highspy\n"
         "h = highspy.Highs(); h.setOptionValue('output_flag', False)\n"
         "h.addVar(0.0, 4.0); h.changeColCost(0, -1.0); h.run()\n"
         "assert abs(h.getInfo().objective_function_value + 4.0) < 1e-9\n")


@pytest.mark.parametrize("first,second", [(CPSAT, HIGHS), (HIGHS, CPSAT)], ids=["cpsat-first", "highs-first"])
def test_both_solvers_in_one_process(first: str, second: str) -> None:
    r = subprocess.run([sys.executable, "-c", first + second], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
