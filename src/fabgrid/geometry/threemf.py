"""3MF reader: zip-bomb guard, objects, components (also across model files, production extension as
written by Bambu Studio / PrusaSlicer), build items with transforms, and the model's unit attribute.

Depends on numpy, lxml and `fabgrid.errors`; never on store, services or web.
"""

from __future__ import annotations

import functools
import io
import posixpath
import warnings
import zipfile
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

Soup = list[tuple[str, NDArray[np.floating[Any]]]]
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True, remove_comments=True)


@functools.lru_cache(maxsize=64)
def _xpath(ns: str, expr: str) -> Any:
    # smart_strings=False: plain str results, several times faster on large meshes
    return etree.XPath(expr, namespaces={"c": ns}, smart_strings=False)


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


def _read(zf: zipfile.ZipFile, path: str, name: str) -> bytes:
    key = path.lstrip("/")
    names = {n.lower(): n for n in zf.namelist()}
    real = names.get(key.lower())
    if real is None:
        raise _bad(name, f"the package has no part '{path}'")
    info = zf.getinfo(real)
    with zf.open(info) as fh:
        # Read at most the declared size + 1 byte: a lying header cannot make us read more.
        data = fh.read(info.file_size + 1)
    if len(data) > info.file_size:
        raise LimitError(f"{name}: member {real} is larger than its declared size", code="limit.3mf_ratio",
                         hint="export the part again from the slicer or CAD")
    return data


def _root_model_path(zf: zipfile.ZipFile, name: str) -> str:
    try:
        rels = etree.fromstring(_read(zf, "_rels/.rels", name), _PARSER)
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


class _Package:
    def __init__(self, zf: zipfile.ZipFile, name: str) -> None:
        self.zf = zf
        self.name = name
        self.docs: dict[str, Any] = {}
        self.triangles = 0

    def doc(self, path: str) -> Any:
        key = "/" + path.lstrip("/")
        if key not in self.docs:
            try:
                self.docs[key] = etree.fromstring(_read(self.zf, key, self.name), _PARSER)
            except etree.XMLSyntaxError as exc:
                raise _bad(self.name, f"{key} is not valid XML ({exc})") from None
        return self.docs[key]

    def objects(self, path: str) -> dict[str, Any]:
        root = self.doc(path)
        ns = root.nsmap.get(None) or CORE_NS
        return {o.get("id"): o for o in root.iter(f"{{{ns}}}object")}

    def mesh(self, obj: Any, ns: str) -> NDArray[np.float64] | None:
        mesh = obj.find(f"{{{ns}}}mesh")
        if mesh is None:
            return None
        try:
            xyz = np.stack([_numbers(_xpath(ns, f"c:vertices/c:vertex/@{a}")(mesh)) for a in "xyz"], axis=1)
            v = [_numbers(_xpath(ns, f"c:triangles/c:triangle/@{a}")(mesh)) for a in ("v1", "v2", "v3")]
            if not (len(v[0]) == len(v[1]) == len(v[2])) or not np.array_equal(v[0], np.floor(v[0])):
                raise ValueError("triangle indices")
            tri = np.stack(v, axis=1).astype(np.int64)
        except ValueError:
            raise _bad(self.name, f"object {obj.get('id')} has a vertex or triangle that is not a number "
                       "or is missing a coordinate") from None
        if tri.size == 0:
            return np.zeros((0, 3, 3))
        if tri.min() < 0 or tri.max() >= len(xyz):
            raise _bad(self.name, f"object {obj.get('id')} has a triangle index outside its "
                       f"{len(xyz)} vertices")
        self.triangles += len(tri)
        limits.check_triangles(self.triangles, self.name)
        return xyz[tri]

    def resolve(self, path: str, oid: str, transform: NDArray[np.float64], depth: int) -> list[NDArray[Any]]:
        if depth > MAX_DEPTH:
            raise _bad(self.name, f"components nest deeper than {MAX_DEPTH} levels (a cycle?)")
        objs = self.objects(path)
        obj = objs.get(oid)
        if obj is None:
            raise _bad(self.name, f"object id {oid} is referenced but not defined in {path}")
        if obj.get("type", "model") not in ("model", "solidsupport"):
            return []
        ns = self.doc(path).nsmap.get(None) or CORE_NS
        tris = self.mesh(obj, ns)
        out: list[NDArray[Any]] = []
        if tris is not None and len(tris):
            out.append(tris @ transform[:3, :3] + transform[3, :3])
        comps = obj.find(f"{{{ns}}}components")
        if comps is not None:
            for c in comps.iter(f"{{{ns}}}component"):
                sub = c.get(_PATH_ATTR) or path
                sub = sub if sub.startswith("/") else posixpath.join(posixpath.dirname(path), sub)
                m = _transform(c.get("transform"), self.name) @ transform
                out.extend(self.resolve(sub, str(c.get("objectid")), m, depth + 1))
        return out


def load_3mf(data: bytes, name: str) -> tuple[Soup, str | None]:
    """Triangles per build item, in the model's unit, and that unit (3MF names: millimeter, inch, ...)."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as exc:
        raise _bad(name, f"not a 3MF (zip) package ({exc})") from None
    with zf:
        _guard(zf, name)
        pkg = _Package(zf, name)
        root_path = _root_model_path(zf, name)
        root = pkg.doc(root_path)
        ns = root.nsmap.get(None) or CORE_NS
        unit = str(root.get("unit", "millimeter"))
        build = root.find(f"{{{ns}}}build")
        objs = pkg.objects(root_path)
        items = list(build.iter(f"{{{ns}}}item")) if build is not None else []
        soup: Soup = []
        try:
            if not items:  # no build section: every top-level object once
                items = [etree.Element("item", objectid=str(k)) for k in objs]
            for k, item in enumerate(items):
                oid = str(item.get("objectid"))
                path = item.get(_PATH_ATTR) or root_path
                parts = pkg.resolve(path, oid, _transform(item.get("transform"), name), 0)
                if parts:
                    obj = pkg.objects(path).get(oid)
                    label = (obj.get("name") if obj is not None else None) or f"object {oid}"
                    soup.append((label if label not in [s for s, _ in soup] else f"{label} ({k + 1})",
                                 np.concatenate(parts)))
        except zipfile.BadZipFile as exc:
            raise _bad(name, f"damaged zip member ({exc})") from None
    return soup, unit
