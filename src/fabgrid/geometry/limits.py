"""Every limit of part intake in one place, and the time budget of one analysis.

Limits (each exceeded limit raises `fabgrid.errors.LimitError` naming the limit and the value):

- ``MAX_FILE_BYTES`` (200 MiB): size of an uploaded file.
- ``MAX_TRIANGLES`` (5,000,000): triangles after loading (checked from the STL header before reading).
- ``MAX_3MF_UNCOMPRESSED_BYTES`` (1 GiB): sum of the declared sizes of the 3MF zip members.
- ``MAX_3MF_RATIO`` (250): uncompressed/compressed size of one 3MF member larger than 1 MiB
  (zip-bomb guard: checked from the zip directory before anything is extracted).
- ``MAX_3MF_MEMBERS`` (10,000): entries in a 3MF archive.
- ``MAX_3MF_MODEL_BYTES`` (512 MiB): model XML of a 3MF (all model files). The XML is streamed, never
  held as a tree: the reader's memory is the numbers it keeps (24 bytes per vertex and per triangle,
  at most about 0.2 GB at the limits below) plus one 1 MiB chunk, whatever the XML's size.
- ``MAX_3MF_VERTICES`` (5,000,000): vertices in a 3MF, counted as they are read, before conversion.
- ``MAX_3MF_INSTANCES`` (100,000): object instances the build places once components are resolved,
  counted over the component graph before any is resolved (fan-out as well as nesting depth 16).
- ``MAX_COORDINATE_MM`` (1e9 mm, 1,000 km): largest absolute coordinate after units are applied.
- ``ANALYSIS_TIME_S`` (120 s): wall time of one analysis, checked between stages; an upload's analysis
  runs in a child process killed at ``ANALYSIS_TIME_S + ANALYSIS_GRACE_S`` (wall) and limited to as many
  CPU seconds (RLIMIT_CPU).
- ``ANALYSIS_MEMORY_BYTES`` (4 GiB): address space a child analysis may add to its start (RLIMIT_AS).

Depends only on `fabgrid.errors` (and the hull limit of `fabgrid.domain.part`).
"""

from __future__ import annotations

import time

from fabgrid.domain.part import HULL_EXACT_MAX_VERTICES as _HULL_EXACT_MAX_VERTICES
from fabgrid.errors import LimitError

MAX_FILE_BYTES = 200 * 1024 * 1024
MAX_TRIANGLES = 5_000_000
MAX_3MF_UNCOMPRESSED_BYTES = 1024 * 1024 * 1024
MAX_3MF_RATIO = 250.0
MAX_3MF_RATIO_MIN_BYTES = 1024 * 1024
MAX_3MF_MEMBERS = 10_000
MAX_3MF_MODEL_BYTES = 512 * 1024 * 1024
MAX_3MF_RELS_BYTES = 1024 * 1024
MAX_3MF_VERTICES = 5_000_000
MAX_3MF_INSTANCES = 100_000
MAX_COORDINATE_MM = 1e9
ANALYSIS_TIME_S = 120.0
ANALYSIS_GRACE_S = 15.0
ANALYSIS_MEMORY_BYTES = 4 * 1024 * 1024 * 1024

#: Exact convex hull up to this many vertices; above it the hull of a bounded sample (flagged).
HULL_EXACT_MAX_VERTICES = _HULL_EXACT_MAX_VERTICES  # the part computes its hull (domain.part)
#: Self-intersection test: at most this many candidate triangle pairs are tested exactly.
SELF_INTERSECTION_MAX_PAIRS = 4_000_000
#: Meshes above this many triangles are not searched for self-intersections (reported as not checked).
SELF_INTERSECTION_MAX_FACES = 100_000
#: Thickness: number of surface points sampled for ray casting.
THICKNESS_SAMPLES = 4_000
#: Boundary loops with at most this many edges are filled by `repair`.
REPAIR_MAX_HOLE_EDGES = 64


def check_file_size(n_bytes: int, name: str) -> None:
    """Raise LimitError when a file is larger than MAX_FILE_BYTES."""
    if n_bytes > MAX_FILE_BYTES:
        raise LimitError(
            f"{name}: file is {n_bytes / 1048576:.1f} MiB, above the limit of "
            f"{MAX_FILE_BYTES / 1048576:.0f} MiB",
            hint="decimate the mesh or split the part into several files",
            code="limit.file_size",
        )


def check_triangles(n_triangles: int, name: str) -> None:
    """Raise LimitError when a mesh has more than MAX_TRIANGLES triangles."""
    if n_triangles > MAX_TRIANGLES:
        raise LimitError(
            f"{name}: {n_triangles:,} triangles, above the limit of {MAX_TRIANGLES:,}",
            hint="export with a coarser tessellation (larger chord tolerance) or decimate the mesh",
            code="limit.triangles",
        )


def check_coordinates(largest_mm: float, name: str) -> None:
    """Raise LimitError when a coordinate is farther than MAX_COORDINATE_MM from the origin (volumes of such
    parts overflow a float; no machine builds them)."""
    if largest_mm > MAX_COORDINATE_MM:
        raise LimitError(
            f"{name}: a coordinate is {largest_mm:.3g} mm from the origin, above the limit of "
            f"{MAX_COORDINATE_MM:.0e} mm",
            hint="check the file's unit and the exporter's scale (a part is at most a few metres)",
            code="limit.coordinates",
        )


class Budget:
    """Wall-time budget of one analysis; `check(stage)` raises LimitError once it is spent."""

    def __init__(self, seconds: float = ANALYSIS_TIME_S, name: str = "part") -> None:
        self.seconds = seconds
        self.name = name
        self.start = time.perf_counter()

    def elapsed_s(self) -> float:
        """Seconds since the budget started."""
        return time.perf_counter() - self.start

    def left_s(self) -> float:
        """Seconds left (may be negative)."""
        return self.seconds - self.elapsed_s()

    def check(self, stage: str) -> None:
        """Raise LimitError when the budget is spent, naming the stage reached."""
        if self.elapsed_s() > self.seconds:
            raise LimitError(
                f"{self.name}: analysis took more than {self.seconds:.0f} s (stopped at {stage})",
                hint="simplify the mesh (fewer triangles) or split the bodies into one file each",
                code="limit.time",
            )
