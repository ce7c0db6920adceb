"""Imported once by the analysis forkserver (`services.analysis._mp_context`): runs one tiny analysis so that
what an analysis sets up on first use (lazy imports, caches, spatial indexes' libraries) is done before any
child is forked from it, not again in every child. Importing it elsewhere only costs that one analysis.
"""

from __future__ import annotations

import contextlib
import struct

import numpy as np

from fabgrid.errors import InputError
from fabgrid.services.analysis import analyze_with_part


def _tetra_stl() -> bytes:
    p = np.array([[0, 0, 0], [10, 0, 0], [0, 10, 0], [0, 0, 10]], dtype=np.float32)
    rec = np.zeros(4, dtype=[("n", "<f4", 3), ("t", "<f4", (3, 3)), ("a", "<u2")])
    rec["t"] = p[np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])]
    return b"\0" * 80 + struct.pack("<I", 4) + rec.tobytes()


with contextlib.suppress(InputError):  # a catalog without processes: nothing to warm
    analyze_with_part(_tetra_stl(), "warm-up.stl")
