"""3MF reader: zip-bomb guard, objects, components (also across model files, production extension as
written by Bambu Studio / PrusaSlicer), build items with transforms, and the model's unit attribute.

Model XML is streamed through a parser target (no element tree): memory is the vertex and triangle arrays,
counted against the limits as they arrive, before their numbers are converted. Component instances are
counted over the whole component graph before any is resolved (fan-out as well as depth).
Depends on numpy, lxml and `fabgrid.errors`; never on store, services or web.
"""

from __future__ import annotations

import io
import posixpath
import struct
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from lxml import etree
from numpy.typing import NDArray

from fabgrid.errors import InputError, LimitError
from fabgrid.geometry import limits

CORE_NS = "http://schemas.microsoft.com/3dmanufacturing/core/2015/02"
PROD_NS = "http://schemas.microsoft.com/3dmanufacturing/production/2015/06"
REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
MODEL_REL = "http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel"
_PATH_ATTR = f"{{{PROD_NS}}}path"
MAX_DEPTH = 16
#: Numbers converted per batch while streaming (bounds the strings held at once).
_FLUSH_VALUES = 3 * 65536
_CHUNK_BYTES = 1 << 20
#: Errors the zip and inflate layers raise on damaged archives (byte-mutated files reach all of them).
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError,
               RuntimeError, struct.error, KeyError, IndexError, OverflowError, UnicodeDecodeError)

Soup = list[tuple[str, NDArray[np.floating[Any]]]]


def _numbers(values: list[str]) -> NDArray[np.float64]:
    """Parse a list of decimal strings in C (one joined buffer), ValueError on anything else."""
    if not values:
        return np.zeros(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy warns (not raises) on a malformed number
        try:
            out = np.fromstring(" ".join(values), sep=" ")
        except (DeprecationWarning, RuntimeWarning) as exc:
            raise ValueError(str(exc)) from None
    if len(out) != len(values):
        raise ValueError("malformed number")
    return out


def _bad(name: str, what: str) -> InputError:
    return InputError(f"{name}: {what}", hint="the 3MF file is damaged: export it again from the slicer or CAD",
                      code="3mf.malformed")


def _guard(zf: zipfile.ZipFile, name: str) -> None:
    """Check the zip directory (declared sizes and ratios) before anything is extracted."""
    infos = zf.infolist()
    if len(infos) > limits.MAX_3MF_MEMBERS:
        raise LimitError(f"{name}: 3MF has {len(infos):,} entries, above the limit of {limits.MAX_3MF_MEMBERS:,}",
                         hint="remove thumbnails and extra files from the package", code="limit.3mf_members")
    total = sum(i.file_size for i in infos)
    if total > limits.MAX_3MF_UNCOMPRESSED_BYTES:
        raise LimitError(f"{name}: 3MF unpacks to {total / 2**20:.0f} MiB, above the limit of "
                         f"{limits.MAX_3MF_UNCOMPRESSED_BYTES / 2**20:.0f} MiB",
                         hint="split the plate into several files", code="limit.3mf_uncompressed")
    for i in infos:
        if i.file_size > limits.MAX_3MF_RATIO_MIN_BYTES:
            ratio = i.file_size / max(i.compress_size, 1)
            if ratio > limits.MAX_3MF_RATIO:
                raise LimitError(f"{name}: member {i.filename} expands {ratio:.0f}x, above the limit of "
                                 f"{limits.MAX_3MF_RATIO:.0f}x (zip bomb guard)",
                                 hint="export the part again from the slicer or CAD", code="limit.3mf_ratio")


def _member(zf: zipfile.ZipFile, path: str, name: str) -> zipfile.ZipInfo:
    names = {n.lower(): n for n in zf.namelist()}
    real = names.get(path.lstrip("/").lower())
    if real is None:
        raise _bad(name, f"the package has no part '{path}'")
    return zf.getinfo(real)


def _chunks(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> Any:
    """The member's bytes in chunks; at most its declared size (a lying header cannot make us read more)."""
    left = info.file_size
    with zf.open(info) as fh:
        while True:
            chunk = fh.read(min(_CHUNK_BYTES, left + 1))
            if not chunk:
                return
            left -= len(chunk)
            if left < 0:
                raise LimitError(f"{name}: member {info.filename} is larger than its declared size",
                                 code="limit.3mf_ratio", hint="export the part again from the slicer or CAD")
            yield chunk


def _root_model_path(zf: zipfile.ZipFile, name: str) -> str:
    try:
        info = _member(zf, "_rels/.rels", name)
        if info.file_size > limits.MAX_3MF_RELS_BYTES:
            return "/3D/3dmodel.model"
        parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True)
        rels = etree.fromstring(b"".join(_chunks(zf, info, name)), parser)
        for rel in rels.iter(f"{{{REL_NS}}}Relationship"):
            if rel.get("Type", "").rstrip("/").endswith("3dmodel"):
                return str(rel.get("Target", "/3D/3dmodel.model"))
    except (InputError, etree.XMLSyntaxError):
        pass
    return "/3D/3dmodel.model"


def _transform(text: str | None, name: str) -> NDArray[np.float64]:
    """3MF 'm00 m01 m02 m10 ... m32' (row vectors: p' = [p 1] @ M) as a 4x4 matrix."""
    m = np.eye(4)
    if text:
        try:
            vals = np.array(text.split(), dtype=np.float64)
        except ValueError:
            raise _bad(name, f"transform '{text[:60]}' is not 12 numbers") from None
        if vals.shape != (12,) or not np.isfinite(vals).all():
            raise _bad(name, f"transform '{text[:60]}' is not 12 finite numbers")
        m[:, :3] = vals.reshape(4, 3)
    return m


@dataclass
class _Ref:
    """A component or build item: the object it places, in which model file, with which transform text."""

    objectid: str
    path: str | None
    transform: str | None


@dataclass
class _Object:
    """An object of a model file as streamed: its mesh as number chunks, and its components."""

    oid: str
    name: str | None
    kind: str
    vertex_chunks: list[NDArray[np.float64]] = field(default_factory=list)
    triangle_chunks: list[NDArray[np.float64]] = field(default_factory=list)
    n_vertices: int = 0
    n_triangles: int = 0
    has_mesh: bool = False
    components: list[_Ref] = field(default_factory=list)
    _tris: NDArray[np.float64] | None = None

    def triangles(self, name: str) -> NDArray[np.float64]:
        """(m, 3, 3) float triangles of its own mesh (checked once, then kept)."""
        if self._tris is None:
            xyz = np.concatenate(self.vertex_chunks).reshape(-1, 3) if self.vertex_chunks else np.zeros((0, 3))
            idx = np.concatenate(self.triangle_chunks) if self.triangle_chunks else np.zeros(0)
            if not np.array_equal(idx, np.floor(idx)):
                raise _bad(name, f"object {self.oid} has a triangle index that is not an integer")
            tri = idx.astype(np.int64).reshape(-1, 3)
            if tri.size and (tri.min() < 0 or tri.max() >= len(xyz)):
                raise _bad(name, f"object {self.oid} has a triangle index outside its {len(xyz)} vertices")
            self._tris = xyz[tri] if tri.size else np.zeros((0, 3, 3))
            self.vertex_chunks, self.triangle_chunks = [], []
        return self._tris


class _ModelTarget:
    """lxml parser target of one model file: objects, components, build items, unit; no tree is built.

    Vertices and triangles are counted (package-wide, `counts`) as their elements start, so the limits
    stop the parse before their numbers are converted or the rest of the file is read."""

    def __init__(self, name: str, path: str, counts: dict[str, int]) -> None:
        self.name, self.path, self.counts = name, path, counts
        self.ns: str | None = None
        self.unit = "millimeter"
        self.objects: dict[str, _Object] = {}
        self.items: list[_Ref] = []
        self.has_build = False
        self._obj: _Object | None = None
        self._in_mesh = self._in_build = False
        self._v: list[str] = []
        self._t: list[str] = []

    def _local(self, tag: str) -> str | None:
        ns, _, local = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
        return local if ns == self.ns else None

    def start(self, tag: str, attrib: Any) -> None:
        if self.ns is None:  # the root element names the model's namespace (core, or an older draft)
            self.ns = tag[1:].partition("}")[0] if tag.startswith("{") else ""
            self.unit = str(attrib.get("unit", "millimeter"))
        local = self._local(tag)
        obj = self._obj
        if local == "vertex" and obj is not None and self._in_mesh:
            x, y, z = attrib.get("x"), attrib.get("y"), attrib.get("z")
            if x is None or y is None or z is None:
                raise _bad(self.name, f"object {obj.oid} has a vertex that is missing a coordinate")
            self._v += (x, y, z)
            obj.n_vertices += 1
            self.counts["vertices"] += 1
            if self.counts["vertices"] > limits.MAX_3MF_VERTICES:
                raise LimitError(f"{self.name}: more than {limits.MAX_3MF_VERTICES:,} vertices in the package",
                                 hint="export with a coarser tessellation or decimate the mesh",
                                 code="limit.vertices")
            if len(self._v) >= _FLUSH_VALUES:
                self._flush()
        elif local == "triangle" and obj is not None and self._in_mesh:
            a, b, c = attrib.get("v1"), attrib.get("v2"), attrib.get("v3")
            if a is None or b is None or c is None:
                raise _bad(self.name, f"object {obj.oid} has a triangle that is missing a vertex index")
            self._t += (a, b, c)
            obj.n_triangles += 1
            self.counts["triangles"] += 1
            limits.check_triangles(self.counts["triangles"], self.name)
            if len(self._t) >= _FLUSH_VALUES:
                self._flush()
        elif local == "object":
            oid = str(attrib.get("id"))
            self._obj = _Object(oid, attrib.get("name"), str(attrib.get("type", "model")))
            self.objects[oid] = self._obj
        elif local == "mesh" and obj is not None:
            obj.has_mesh, self._in_mesh = True, True
        elif local == "component" and obj is not None:
            obj.components.append(_Ref(str(attrib.get("objectid")), attrib.get(_PATH_ATTR), attrib.get("transform")))
        elif local == "build":
            self.has_build = self._in_build = True
        elif local == "item" and self._in_build:
            self.items.append(_Ref(str(attrib.get("objectid")), attrib.get(_PATH_ATTR), attrib.get("transform")))

    def _flush(self) -> None:
        obj = self._obj
        try:
            if self._v and obj is not None:
                obj.vertex_chunks.append(_numbers(self._v))
            if self._t and obj is not None:
                obj.triangle_chunks.append(_numbers(self._t))
        except ValueError:
            oid = obj.oid if obj is not None else "?"
            raise _bad(self.name, f"object {oid} has a vertex or triangle that is not a number") from None
        self._v, self._t = [], []

    def end(self, tag: str) -> None:
        local = self._local(tag)
        if local == "mesh":
            self._flush()
            self._in_mesh = False
        elif local == "object":
            self._flush()
            self._obj, self._in_mesh = None, False
        elif local == "build":
            self._in_build = False

    def data(self, text: str) -> None:
        """Text content is never used (a 3MF model carries its data in attributes)."""

    def close(self) -> _ModelTarget:
        return self


class _Package:
    def __init__(self, zf: zipfile.ZipFile, name: str) -> None:
        self.zf = zf
        self.name = name
        self.models: dict[str, _ModelTarget] = {}
        self.counts = {"vertices": 0, "triangles": 0, "xml_bytes": 0}

    def model(self, path: str) -> _ModelTarget:
        key = "/" + path.lstrip("/")
        if key not in self.models:
            info = _member(self.zf, key, self.name)
            self.counts["xml_bytes"] += info.file_size
            if self.counts["xml_bytes"] > limits.MAX_3MF_MODEL_BYTES:
                raise LimitError(f"{self.name}: the model XML of the package is above the limit of "
                                 f"{limits.MAX_3MF_MODEL_BYTES / 2**20:.0f} MiB",
                                 hint="export with a coarser tessellation or split the plate",
                                 code="limit.3mf_model_size")
            target = _ModelTarget(self.name, key, self.counts)
            parser = etree.XMLParser(target=target, resolve_entities=False, no_network=True, load_dtd=False,
                                     remove_comments=True)
            try:
                for chunk in _chunks(self.zf, info, self.name):
                    parser.feed(chunk)
                parser.close()
            except etree.XMLSyntaxError as exc:
                raise _bad(self.name, f"{key} is not valid XML ({exc})") from None
            self.models[key] = target
        return self.models[key]

    def obj(self, path: str, oid: str) -> _Object:
        o = self.model(path).objects.get(oid)
        if o is None:
            raise _bad(self.name, f"object id {oid} is referenced but not defined in {path}")
        return o

    def _child_path(self, path: str, ref: _Ref) -> str:
        sub = ref.path or path
        return sub if sub.startswith("/") else posixpath.join(posixpath.dirname(path), sub)

    def census(self, path: str, oid: str, memo: dict[tuple[str, str], tuple[int, int]],
               active: set[tuple[str, str]], depth: int = 0) -> tuple[int, int]:
        """(instances, triangles) that placing object `oid` of `path` resolves to, without resolving it:
        each object is counted once (memoised), so 17 objects referencing the next 4 times cost 17 steps
        and report 4^16 instances."""
        key = ("/" + path.lstrip("/"), oid)
        if key in memo:
            return memo[key]
        if key in active or depth > MAX_DEPTH:
            raise _bad(self.name, f"components nest deeper than {MAX_DEPTH} levels or refer to themselves "
                       f"(object {oid})")
        o = self.obj(key[0], oid)
        if o.kind not in ("model", "solidsupport"):
            memo[key] = (0, 0)
            return memo[key]
        active.add(key)
        instances, triangles = 1, o.n_triangles
        for ref in o.components:
            i, t = self.census(self._child_path(key[0], ref), ref.objectid, memo, active, depth + 1)
            instances, triangles = instances + i, triangles + t
        active.discard(key)
        memo[key] = (instances, triangles)
        return memo[key]

    def resolve(self, path: str, oid: str, transform: NDArray[np.float64]) -> list[NDArray[Any]]:
        o = self.obj(path, oid)
        if o.kind not in ("model", "solidsupport"):
            return []
        out: list[NDArray[Any]] = []
        if o.has_mesh:
            tris = o.triangles(self.name)
            if len(tris):
                out.append(tris @ transform[:3, :3] + transform[3, :3])
        for ref in o.components:
            m = _transform(ref.transform, self.name) @ transform
            out.extend(self.resolve(self._child_path(path, ref), ref.objectid, m))
        return out


def _check_census(name: str, instances: int, triangles: int) -> None:
    if instances > limits.MAX_3MF_INSTANCES:
        raise LimitError(f"{name}: the build places {instances:,} object instances (components resolved), "
                         f"above the limit of {limits.MAX_3MF_INSTANCES:,}",
                         hint="export the plate with fewer copies, or one file per part",
                         code="limit.3mf_instances")
    limits.check_triangles(triangles, name)


def load_3mf(data: bytes, name: str) -> tuple[Soup, str | None]:
    """Triangles per build item, in the model's unit, and that unit (3MF names: millimeter, inch, ...)."""
    try:
        return _load(data, name)
    except InputError:
        raise
    except MemoryError:
        raise LimitError(f"{name}: the 3MF needs more memory than analysis may use", code="limit.memory",
                         hint="export with a coarser tessellation or split the plate") from None
    except _ZIP_ERRORS as exc:
        raise _bad(name, f"damaged zip package ({type(exc).__name__}: {str(exc)[:120]})") from None


def _load(data: bytes, name: str) -> tuple[Soup, str | None]:
    zf = zipfile.ZipFile(io.BytesIO(data))
    with zf:
        _guard(zf, name)
        pkg = _Package(zf, name)
        root_path = _root_model_path(zf, name)
        root = pkg.model(root_path)
        items = root.items if root.has_build else [_Ref(oid, None, None) for oid in root.objects]
        memo: dict[tuple[str, str], tuple[int, int]] = {}
        instances = triangles = 0
        for item in items:  # count everything the build resolves to before resolving any of it
            i, t = pkg.census(item.path or root_path, item.objectid, memo, set())
            instances, triangles = instances + i, triangles + t
            _check_census(name, instances, triangles)
        soup: Soup = []
        for k, item in enumerate(items):
            path = item.path or root_path
            parts = pkg.resolve(path, item.objectid, _transform(item.transform, name))
            if parts:
                label = pkg.obj(path, item.objectid).name or f"object {item.objectid}"
                soup.append((label if label not in [s for s, _ in soup] else f"{label} ({k + 1})",
                             np.concatenate(parts)))
    return soup, root.unit
