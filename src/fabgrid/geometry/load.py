"""Read a part file (the formats of `geometry.formats`) into one `domain.Part`: a welded triangle mesh
in mm with its bodies/objects, units and source; its derived facts are computed once, on the part.

A loader is registered per format of `formats.FORMATS` in `LOADERS`; every failure is an `InputError`
with a stable code. Depends on numpy, lxml (3MF), trimesh (OBJ/PLY/STEP), `fabgrid.domain` and
`fabgrid.errors`, the format libraries imported by their loader; never on store, services or web.
"""

from __future__ import annotations

import importlib.util
import io
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fabgrid.domain.part import Part
from fabgrid.errors import InputError
from fabgrid.geometry import formats, limits
from fabgrid.geometry.units import SMALL_PART_MM, UNIT_TO_MM, guess_unit, implausible_in_mm, normalise_unit

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: (name, triangles (n, 3, 3) float) per object found in a file, plus the file's unit if it declares one.
Soup = list[tuple[str, NDArray[np.floating[Any]]]]


def _mix(x: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """splitmix64 finaliser: every input bit reaches every output bit (float32 data has zero low bits)."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    out: NDArray[np.uint64] = x ^ (x >> np.uint64(31))
    return out


def weld(points: NDArray[np.floating[Any]], overwrite: bool = False) -> tuple[FloatArray, IntArray]:
    """Merge bit-identical points: (k, 3) -> (vertices (n, 3) float64, inverse (k,) int64).

    `overwrite=True` lets a float64 C-contiguous `points` be normalised in place (saves one copy).

    A 64-bit hash of the coordinates is sorted once (the vertex order is that of the hash); every merge is
    then verified exactly (a hash collision falls back to a lexicographic unique), so no two distinct
    points merge.
    """
    p = np.ascontiguousarray(points, dtype=np.float64)
    if overwrite and p.flags.writeable:
        p += 0.0  # -0.0 and 0.0 are the same point
    else:
        p = p + 0.0
    if len(p) == 0:
        return np.zeros((0, 3)), np.zeros(0, dtype=np.int64)
    u = p.view(np.uint64)
    h = _mix(_mix(_mix(u[:, 0]) ^ u[:, 1]) ^ u[:, 2])
    # sort (not argsort: several times faster) keys holding the hash's high bits above the point's index
    bits = max(1, (len(h) - 1).bit_length())
    low = np.uint64((1 << bits) - 1)
    key = (h & ~low) | np.arange(len(h), dtype=np.uint64)
    key.sort()
    order = (key & low).astype(np.int64)
    sh = np.take(h, order)  # np.take: several times faster than fancy indexing on large arrays
    new = np.empty(len(h), dtype=bool)
    new[0] = True
    np.not_equal(sh[1:], sh[:-1], out=new[1:])
    key &= ~low
    if np.any(new[1:] & (key[1:] == key[:-1])):  # distinct points share the high bits: sort the full hash
        order = np.argsort(h)
        sh = np.take(h, order)
        np.not_equal(sh[1:], sh[:-1], out=new[1:])
    del key
    inverse = np.empty(len(h), dtype=np.int64)
    np.put(inverse, order, np.cumsum(new) - 1)
    vertices = np.take(p, order[new], axis=0)
    if not np.array_equal(np.take(vertices, inverse, axis=0), p):
        vertices, inverse = np.unique(p, axis=0, return_inverse=True)
    return vertices, inverse.reshape(-1).astype(np.int64, copy=False)


#: Points closer than this fraction of the part's largest extent are one vertex (`merge_close`): 2**-32,
#: about 2.3e-10, far below the resolution of a binary STL's float32 (6e-8 relative), so no two points an
#: exporter meant to be distinct merge; CAD exporters write 0 and 1e-17 (cos 90 deg) for one corner.
WELD_REL_TOL = 2.0 ** -32


def merge_close(vertices: FloatArray, inverse: IntArray, rel_tol: float = WELD_REL_TOL) -> tuple[FloatArray, IntArray]:
    """Merge welded vertices (n, 3) mm that lie within `rel_tol` x the largest extent of each other:
    -> (vertices (n', 3) float64, inverse (k,) int64 into them), each merged group keeping the coordinates of
    its first vertex. Coordinates are snapped to a grid of that size (as trimesh's merge_vertices rounds to
    1e-8) and welded exactly; bit-identical points were merged by `weld` already."""
    if len(vertices) < 2:
        return vertices, inverse
    extent = float(np.ptp(vertices, axis=0).max())
    if extent <= 0.0:
        return vertices, inverse
    tol = extent * rel_tol
    snapped, group = weld(np.round(vertices / tol), overwrite=True)
    if len(snapped) == len(vertices):
        return vertices, inverse
    first = np.full(len(snapped), -1, dtype=np.int64)
    first[group[::-1]] = np.arange(len(group), dtype=np.int64)[::-1]
    return vertices[first], group[inverse]


# ---------------------------------------------------------------- STL

_STL_VERTEX = re.compile(rb"vertex[ \t\r\n\f\v]+([^ \t\r\n\f\v]+)[ \t\r\n\f\v]+([^ \t\r\n\f\v]+)"
                         rb"[ \t\r\n\f\v]+([^ \t\r\n\f\v]+)", re.IGNORECASE)
#: A `solid` header: at a line start, blanks only within the line (`[ \t]*`, never across lines, so a run
#: of blank lines is scanned once: `^\s*solid` with re.M rescanned it from every line, quadratic).
_STL_HEADER = re.compile(rb"^[ \t\f\v]*solid[ \t]*([^\r\n]*)", re.IGNORECASE | re.M)
_STL_END = re.compile(rb"endsolid", re.IGNORECASE)


def _stl_solids(data: bytes) -> list[tuple[bytes, bytes]]:
    """(label, body) of each `solid ... endsolid` of an ASCII STL, in one left-to-right pass: O(n).

    A body runs from its header to the next `endsolid` (or the end of the file), like the
    `solid (.*?) endsolid` of the format; the next header is looked for after that."""
    out: list[tuple[bytes, bytes]] = []
    pos = 0
    while True:
        m = _STL_HEADER.search(data, pos)
        if m is None:
            return out
        end = _STL_END.search(data, m.end())
        stop = end.start() if end is not None else len(data)
        out.append((m.group(1), data[m.end():stop]))
        if end is None:
            return out
        pos = end.end()


def _stl_ascii(data: bytes, name: str) -> Soup:
    # counted before parsing (the usual spellings), so the triangle limit holds before any number is read
    limits.check_triangles((data.count(b"vertex") + data.count(b"VERTEX")) // 3, name)
    soup: Soup = []
    for k, (header, body) in enumerate(_stl_solids(data)):
        values = _STL_VERTEX.findall(body)
        if not values:
            continue
        if len(values) % 3:
            raise InputError(f"{name}: ASCII STL solid {k + 1} has {len(values)} vertices, not a multiple of 3",
                             hint="the file is damaged: export it again", code="mesh.malformed")
        limits.check_triangles(len(values) // 3 + sum(len(t) for _, t in soup), name)
        try:
            tris = np.array(values, dtype=np.float64).reshape(-1, 3, 3)
        except ValueError as exc:
            raise InputError(f"{name}: ASCII STL has a vertex that is not a number ({exc})",
                             hint="the file is damaged: export it again", code="mesh.malformed") from None
        label = header.decode("utf-8", "replace").strip() or f"solid {k + 1}"
        soup.append((label, tris))
    return soup


def _stl(data: bytes, name: str) -> tuple[Soup, str | None]:
    if len(data) >= 84:
        n = int.from_bytes(data[80:84], "little")
        expected = 84 + 50 * n
        looks_ascii = data.lstrip()[:5].lower() == b"solid" and b"facet" in data[:4096].lower()
        if expected == len(data) or (not looks_ascii and expected <= len(data) and n > 0):
            limits.check_triangles(n, name)
            rec = np.dtype([("normal", "<f4", 3), ("tri", "<f4", (3, 3)), ("attr", "<u2")])
            tris = np.frombuffer(data, dtype=rec, count=n, offset=84)["tri"]
            return [(Path(name).stem, tris)], None
        if not looks_ascii:
            if n > 0 and expected > len(data):
                raise InputError(
                    f"{name}: binary STL declares {n:,} triangles ({expected:,} bytes) but the file has "
                    f"{len(data):,} bytes", hint="the file is truncated: export or upload it again",
                    code="mesh.truncated")
            raise InputError(f"{name}: not a readable STL (no triangles)",
                             hint="export the part again as STL, 3MF or STEP", code="mesh.empty")
    if data.lstrip()[:5].lower() != b"solid":
        raise InputError(f"{name}: not an STL file (neither binary nor ASCII 'solid ...')",
                         hint="export the part again as STL, 3MF or STEP", code="mesh.format")
    return _stl_ascii(data, name), None


# ---------------------------------------------------------------- OBJ, PLY, STEP through trimesh


def _trimesh_soup(data: bytes, name: str, file_type: str) -> Soup:
    import trimesh

    log = logging.getLogger("trimesh")
    level = log.level
    log.setLevel(logging.CRITICAL)  # its loaders log tracebacks for missing textures: not the user's concern
    try:
        loaded = trimesh.load(io.BytesIO(data), file_type=file_type, process=False)
    except Exception as exc:  # the third-party parser raises many types on damaged files
        raise InputError(f"{name}: cannot read the {file_type.upper()} file ({type(exc).__name__}: {exc})",
                         hint="the file is damaged or not a mesh: export it again as STL or 3MF",
                         code="mesh.unreadable") from None
    finally:
        log.setLevel(level)
    meshes: list[tuple[str, Any]] = []
    if isinstance(loaded, trimesh.Scene):
        for node in loaded.graph.nodes_geometry:
            transform, geom_name = loaded.graph[node]
            geom = loaded.geometry[geom_name]
            if isinstance(geom, trimesh.Trimesh):
                meshes.append((str(geom_name), geom.copy().apply_transform(transform)))
    elif isinstance(loaded, trimesh.Trimesh):
        meshes.append((Path(name).stem, loaded))
    soup: Soup = []
    for label, mesh in meshes:
        faces = np.asarray(mesh.faces, dtype=np.int64)
        verts = np.asarray(mesh.vertices, dtype=np.float64)
        if len(faces) == 0 or len(verts) == 0:
            continue
        if faces.min() < 0 or faces.max() >= len(verts):
            raise InputError(f"{name}: a face refers to a vertex that does not exist",
                             hint="the file is damaged: export it again", code="mesh.malformed")
        soup.append((label, verts[faces]))
    return soup


def _obj(data: bytes, name: str) -> tuple[Soup, str | None]:
    return _trimesh_soup(data, name, "obj"), None


def _ply(data: bytes, name: str) -> tuple[Soup, str | None]:
    return _trimesh_soup(data, name, "ply"), None


def _step(data: bytes, name: str) -> tuple[Soup, str | None]:
    if importlib.util.find_spec("cascadio") is None:
        raise InputError(f"{name}: reading STEP needs the optional extra 'step' (cascadio), not installed",
                         hint="pip install 'fabgrid[step]', or export the part as 3MF or STL",
                         code="step.extra_missing")
    if b"ISO-10303-21" not in data[:1024]:
        raise InputError(f"{name}: not a STEP file (no ISO-10303-21 header)",
                         hint="export the part again as STEP AP203/AP214/AP242", code="mesh.format")
    # cascadio writes glTF, whose unit is the metre: back to mm.
    return [(label, tris * 1000.0) for label, tris in _trimesh_soup(data, name, "step")], "mm"


def _threemf(data: bytes, name: str) -> tuple[Soup, str | None]:
    from fabgrid.geometry.threemf import load_3mf  # lxml is imported for a 3MF only (10 ms an STL does not need)

    return load_3mf(data, name)


Loader = Callable[[bytes, str], tuple[Soup, str | None]]

#: The loader of each format of `formats.FORMATS`, by format id.
_BY_FORMAT: dict[str, Loader] = {"stl": _stl, "3mf": _threemf, "obj": _obj, "ply": _ply, "step": _step}
if set(_BY_FORMAT) != {f.id for f in formats.FORMATS}:  # the format list and the loaders must agree
    raise ImportError(f"geometry.load: loaders {sorted(_BY_FORMAT)} do not match geometry.formats.FORMATS")

#: Loader per file extension (without the dot), derived from the format list.
LOADERS: dict[str, Loader] = {ext.lstrip("."): _BY_FORMAT[f.id] for f in formats.FORMATS for ext in f.extensions}


def sniff_format(data: bytes, filename: str) -> str:
    """The format of a file from its extension, else from its first bytes."""
    ext = Path(filename).suffix.lower().lstrip(".")
    if ext in LOADERS:
        return ext
    head = data[:1024]
    if head.startswith(b"PK\x03\x04"):
        return "3mf"
    if head.startswith(b"ply"):
        return "ply"
    if b"ISO-10303-21" in head:
        return "step"
    if head.lstrip()[:5].lower() == b"solid" or (len(data) >= 84 and
                                                 84 + 50 * int.from_bytes(data[80:84], "little") == len(data)):
        return "stl"
    if re.search(rb"^\s*v\s", head, re.M):
        return "obj"
    raise InputError(f"{filename}: unknown part format '{ext or '(no extension)'}'",
                     hint=f"upload {formats.describe()}", code="mesh.format")


def _unit_guess(points: FloatArray) -> str | None:
    """The unit a unit-less soup of triangles (k, 3) read as mm is in, when as mm no process could make it
    (`units.implausible_in_mm`: tiny and thinner than any minimum wall); None when mm is plausible."""
    extent = float(np.ptp(points, axis=0).max())
    if not 0 < extent < SMALL_PART_MM:
        return None
    tri = points.reshape(-1, 3, 3)
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    area = float(np.linalg.norm(cross, axis=1).sum()) / 2.0
    volume = abs(float(np.einsum("ij,ij->i", tri[:, 0], cross).sum())) / 6.0
    found = guess_unit(extent)
    if found is None or area <= 0 or not implausible_in_mm(extent, 2.0 * volume / area):
        return None
    return found.unit


def load_bytes(data: bytes, filename: str, units: str | None = None, guess: bool = False) -> Part:
    """Load a part from its bytes; `units` (mm, inch, m, cm, um) overrides the file's unit. With `guess`, a
    file without a unit that no process could make in mm (tiny and thinner than any minimum wall) is read in
    the unit `units.guess_unit` finds plausible (units_source "guessed"; the DFM finding `units.guessed_*` says
    so and how to switch back)."""
    limits.check_file_size(len(data), filename)
    if not data.strip():
        raise InputError(f"{filename}: the file is empty", hint="upload the exported part file",
                         code="mesh.empty")
    fmt = sniff_format(data, filename)
    soup, file_unit = LOADERS[fmt](data, filename)
    soup = [(label, t) for label, t in soup if len(t)]
    if not soup:
        raise InputError(f"{filename}: the file has no triangles (empty, points or lines only)",
                         hint="export the solid body as a mesh (STL/3MF) or STEP", code="mesh.empty")
    total = sum(len(t) for _, t in soup)
    limits.check_triangles(total, filename)
    parts = [np.asarray(t, dtype=np.float64).reshape(-1, 3) for _, t in soup]
    points = parts[0] if len(parts) == 1 else np.concatenate(parts)
    if not np.isfinite(points).all():
        raise InputError(f"{filename}: {int((~np.isfinite(points)).any(axis=1).sum())} vertices are NaN or "
                         "infinite", hint="the exporter wrote invalid numbers: export the part again",
                         code="mesh.nonfinite")
    if units is not None:
        unit, source = normalise_unit(units), "user"
    elif file_unit is not None:
        unit, source = normalise_unit(file_unit), "file"
    else:
        unit, source = "mm", "assumed"
        found = _unit_guess(points) if guess else None
        if found is not None:
            unit, source = found, "guessed"
    scale = UNIT_TO_MM[unit]
    if scale != 1.0:
        with np.errstate(over="ignore"):  # an overflow to inf is refused by the coordinate limit below
            points *= scale
    limits.check_coordinates(float(np.abs(points).max()), filename)
    vertices, inverse = weld(points, overwrite=True)  # `points` is this function's own array
    vertices, inverse = merge_close(vertices, inverse)
    group = np.repeat(np.arange(len(soup), dtype=np.int64), [len(t) for _, t in soup])
    return Part(name=Path(filename).name, fmt=fmt, vertices=vertices, faces=inverse.reshape(-1, 3), group=group,
                group_names=[g for g, _ in soup], units=unit, units_source=source)


def read_part_file(path: str | Path) -> bytes:
    """The bytes of a part file on disk (checked to be a file within the size limit before reading)."""
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{p}: is a folder, not a part file", hint="analyse the part files inside it one by one",
                         code="mesh.is_folder")
    if not p.is_file():
        raise InputError(f"{p}: no such file", hint="check the path", code="mesh.not_found")
    limits.check_file_size(p.stat().st_size, str(p))
    return p.read_bytes()


def load_path(path: str | Path, units: str | None = None, guess: bool = False) -> Part:
    """Load a part file from disk (size checked before reading); `guess` as in `load_bytes`."""
    return load_bytes(read_part_file(path), Path(path).name, units=units, guess=guess)
