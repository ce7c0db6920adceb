"""Wall thickness and clearance by ray casting from a bounded, area-weighted sample of surface points:
inward along -normal to the opposite wall (thickness), outward along +normal to the next surface
(gaps and holes). Uses Embree 4 (the library embreex ships, called through ctypes with buffers shared
with numpy), else embreex's own scene, else trimesh's rtree ray tracer.

Depends on numpy, embreex or trimesh; never on store, services or web.
"""

from __future__ import annotations

import ctypes
import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fabgrid.geometry import limits
from fabgrid.geometry.analyze import MeshFacts

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass
class Thickness:
    """Per sample (k,): surface point (k, 3) mm, its face, wall thickness and outward clearance in mm.

    `wall_mm` / `gap_mm` are inf where the ray left the part (open mesh, or nothing in front).
    """

    points_mm: FloatArray
    faces: IntArray
    wall_mm: FloatArray
    gap_mm: FloatArray
    engine: str

    @property
    def min_wall_mm(self) -> float | None:
        """Smallest measured wall, None when no ray hit an opposite wall."""
        finite = self.wall_mm[np.isfinite(self.wall_mm)]
        return float(finite.min()) if len(finite) else None

    def thinnest(self) -> tuple[float, tuple[float, float, float]] | None:
        """The smallest wall and where it was measured."""
        if not np.isfinite(self.wall_mm).any():
            return None
        k = int(np.nanargmin(np.where(np.isfinite(self.wall_mm), self.wall_mm, np.nan)))
        p = self.points_mm[k]
        return float(self.wall_mm[k]), (float(p[0]), float(p[1]), float(p[2]))


_RTC_INVALID_ID = 0xFFFFFFFF
_LANES = 16  # rtcIntersect16 packets
_WORDS = 32  # 4-byte words per lane of one RTCRayHit16 packet: 12 ray + 9 hit fields, room to spare
_ORG, _TNEAR, _DIR, _TIME, _TFAR, _MASK, _ID, _FLAGS, _PRIM, _GEOM, _INST = 0, 3, 4, 7, 8, 9, 10, 11, 17, 18, 19


@functools.cache
def _embree_lib() -> ctypes.CDLL | None:
    """Embree 4 (the library that embreex ships), called directly through ctypes: the geometry buffers
    are then shared with numpy (no per-element copy) and the build quality can be chosen."""
    spec = importlib.util.find_spec("embreex")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations))).parent
    found = sorted((root / "embreex.libs").glob("libembree4*.so*")) + sorted((root / "embreex").glob("*embree4*.so*"))
    if not found:
        return None
    try:
        import embreex.rtcore_scene  # noqa: F401  (loads the bundled TBB the library links against)

        lib = ctypes.CDLL(str(found[0]))
    except OSError:
        return None
    vp, u, sz = ctypes.c_void_p, ctypes.c_uint, ctypes.c_size_t
    sigs: dict[str, tuple[type | None, list[type]]] = {
        "rtcNewDevice": (vp, [ctypes.c_char_p]), "rtcReleaseDevice": (None, [vp]),
        "rtcGetDeviceError": (ctypes.c_int, [vp]), "rtcNewScene": (vp, [vp]), "rtcReleaseScene": (None, [vp]),
        "rtcSetSceneBuildQuality": (None, [vp, ctypes.c_int]), "rtcNewGeometry": (vp, [vp, ctypes.c_int]),
        "rtcSetSharedGeometryBuffer": (None, [vp, ctypes.c_int, u, ctypes.c_int, vp, sz, sz, sz]),
        "rtcCommitGeometry": (None, [vp]), "rtcAttachGeometry": (u, [vp, vp]), "rtcReleaseGeometry": (None, [vp]),
        "rtcCommitScene": (None, [vp]), "rtcIntersect16": (None, [vp, vp, vp, vp]),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args
    return lib


def _aligned(shape: tuple[int, ...], dtype: type[np.generic], align: int = 64) -> NDArray[Any]:
    """An uninitialised C-contiguous array whose data starts on an `align`-byte boundary."""
    size = int(np.prod(shape)) * np.dtype(dtype).itemsize
    raw = np.empty(size + align, dtype=np.uint8)
    start = (-raw.ctypes.data) % align
    return raw[start:start + size].view(dtype).reshape(shape)


class _Caster:
    """First-hit ray casting against one mesh: (origins, directions) -> (distance, face) with -1 for a miss.

    One acceleration structure serves every query (inward and outward rays). Engines, fastest first:
    Embree 4 through ctypes with buffers shared with numpy, embreex's scene (its Cython copy of the
    buffers costs about 1 s CPU per million triangles), trimesh's rtree tracer.
    """

    def __init__(self, vertices: FloatArray, faces: IntArray) -> None:
        self.lib = _embree_lib()
        self.device = self.scene = None
        if self.lib is not None:
            self.engine = "embree"
            # Embree reads vertices 16 bytes at a time: one padding vertex after the last
            self.vbuf = np.zeros((len(vertices) + 1, 3), dtype=np.float32)
            self.vbuf[:-1] = vertices
            self.ibuf = np.ascontiguousarray(faces, dtype=np.uint32)
            lib = self.lib
            self.device = lib.rtcNewDevice(None)
            self.scene = lib.rtcNewScene(self.device)
            lib.rtcSetSceneBuildQuality(self.scene, 0)  # RTC_BUILD_QUALITY_LOW: the cheapest build
            geom = lib.rtcNewGeometry(self.device, 0)  # RTC_GEOMETRY_TYPE_TRIANGLE
            lib.rtcSetSharedGeometryBuffer(geom, 1, 0, 0x9003, self.vbuf.ctypes.data, 0, 12, len(vertices))
            lib.rtcSetSharedGeometryBuffer(geom, 0, 0, 0x5003, self.ibuf.ctypes.data, 0, 12, len(faces))
            lib.rtcCommitGeometry(geom)
            lib.rtcAttachGeometry(self.scene, geom)
            lib.rtcReleaseGeometry(geom)
            lib.rtcCommitScene(self.scene)
            if lib.rtcGetDeviceError(self.device) != 0:
                self.close()
                self.lib = None
        if self.lib is None and importlib.util.find_spec("embreex") is not None:
            from embreex import mesh_construction, rtcore_scene

            self.engine = "embree"
            self.escene = rtcore_scene.EmbreeScene()
            mesh_construction.TriangleMesh(self.escene, np.ascontiguousarray(vertices, dtype=np.float32),
                                           np.ascontiguousarray(faces, dtype=np.int32))
        elif self.lib is None:
            import trimesh
            from trimesh.ray.ray_triangle import RayMeshIntersector

            self.engine = "trimesh-rtree"
            self.tracer = RayMeshIntersector(trimesh.Trimesh(vertices, faces, process=False))  # type: ignore[no-untyped-call]

    def close(self) -> None:
        """Release the Embree scene and device (the ctypes engine)."""
        if self.lib is not None and self.device is not None:
            if self.scene is not None:
                self.lib.rtcReleaseScene(self.scene)
            self.lib.rtcReleaseDevice(self.device)
        self.device = self.scene = None

    def __del__(self) -> None:
        self.close()

    def _embree_hits(self, origins: FloatArray, dirs: FloatArray) -> tuple[FloatArray, IntArray]:
        if self.lib is None or self.scene is None:
            raise RuntimeError("the Embree scene was released (close() was called)")
        n = len(origins)
        packets = -(-n // _LANES)
        buf = _aligned((packets, _WORDS, _LANES), np.float32)
        words = buf.view(np.uint32)
        buf[:] = 0.0
        lanes = np.zeros(packets * _LANES, dtype=bool)
        lanes[:n] = True
        valid = _aligned((packets, _LANES), np.int32)
        valid[:] = np.where(lanes, -1, 0).reshape(packets, _LANES)
        org = np.zeros((packets * _LANES, 3), dtype=np.float32)
        org[:n] = origins
        dn = np.ones((packets * _LANES, 3), dtype=np.float32)
        dn[:n] = dirs
        buf[:, _ORG:_ORG + 3] = org.reshape(packets, _LANES, 3).transpose(0, 2, 1)
        buf[:, _DIR:_DIR + 3] = dn.reshape(packets, _LANES, 3).transpose(0, 2, 1)
        buf[:, _TFAR] = np.inf
        words[:, _MASK] = 0xFFFFFFFF
        words[:, _GEOM] = _RTC_INVALID_ID
        words[:, _PRIM] = _RTC_INVALID_ID
        words[:, _INST] = _RTC_INVALID_ID
        stride = _WORDS * _LANES * 4
        base, vbase = buf.ctypes.data, valid.ctypes.data
        for p in range(packets):  # one call per 16 rays; Embree traverses each packet in C
            self.lib.rtcIntersect16(vbase + 64 * p, self.scene, base + stride * p, None)
        hit = words[:, _GEOM].reshape(-1)[:n] != _RTC_INVALID_ID
        face = np.where(hit, words[:, _PRIM].reshape(-1)[:n].astype(np.int64), -1)
        dist = np.where(hit, buf[:, _TFAR].reshape(-1)[:n].astype(np.float64), np.inf)
        return dist, face

    def first_hit(self, origins: FloatArray, dirs: FloatArray) -> tuple[FloatArray, IntArray]:
        """Distance along `dirs` (unit) to the first face hit from `origins`, and that face (-1: none)."""
        if len(origins) == 0:
            return np.zeros(0), np.zeros(0, dtype=np.int64)
        if self.lib is not None:
            return self._embree_hits(origins, dirs)
        if self.engine == "embree":
            res = self.escene.run(np.ascontiguousarray(origins, dtype=np.float32),
                                  np.ascontiguousarray(dirs, dtype=np.float32), output=1)
            face = np.asarray(res["primID"], dtype=np.int64)
            dist = np.where(face >= 0, np.asarray(res["tfar"], dtype=np.float64), np.inf)
            return dist, face
        tri, ray, loc = self.tracer.intersects_id(  # type: ignore[no-untyped-call]
            origins, dirs, multiple_hits=False, return_locations=True)
        dist = np.full(len(origins), np.inf)
        face = np.full(len(origins), -1, dtype=np.int64)
        dist[ray] = np.einsum("ij,ij->i", loc - origins[ray], dirs[ray])
        face[ray] = tri
        return dist, face


def sample_surface(facts: MeshFacts, count: int, seed: int = 0) -> tuple[FloatArray, IntArray]:
    """`count` area-weighted random points on non-degenerate faces: (points (k, 3), faces (k,))."""
    rng = np.random.default_rng(seed)
    weights = np.where(np.linalg.norm(facts.normals, axis=1) > 0, facts.areas_mm2, 0.0)
    total = weights.sum()
    if total <= 0:
        return np.zeros((0, 3)), np.zeros(0, dtype=np.int64)
    cdf = np.cumsum(weights)
    face = np.minimum(np.searchsorted(cdf, rng.random(count) * cdf[-1], side="right"), len(cdf) - 1)
    # always include the faces' own extremes of size: the smallest faces are where fine detail lives
    r = rng.random((count, 2))
    flip = r.sum(axis=1) > 1
    r[flip] = 1 - r[flip]
    tri = facts.vertices[facts.faces[face]]
    pts = tri[:, 0] + r[:, :1] * (tri[:, 1] - tri[:, 0]) + r[:, 1:] * (tri[:, 2] - tri[:, 0])
    return pts, face.astype(np.int64)


def measure(facts: MeshFacts, samples: int = limits.THICKNESS_SAMPLES, seed: int = 0) -> Thickness:
    """Wall thickness (inward rays) and clearance (outward rays) at `samples` surface points."""
    pts, face = sample_surface(facts, samples, seed)
    caster = _Caster(facts.vertices, facts.faces)
    n = facts.normals[face]
    eps = 1e-5 * max(float(np.max(facts.extents_mm)), 1e-9)
    # inward and outward rays in one batch against the one scene
    dist, hit = caster.first_hit(np.r_[pts - n * eps, pts + n * eps], np.r_[-n, n])
    caster.close()
    k = len(pts)
    wall, wface, gap, gface = dist[:k], hit[:k], dist[k:], hit[k:]
    # a wall ends where the ray leaves the material (exit face points along the ray); anything else
    # (hitting an inward-facing face) is inconsistent winding or an inner shell, not a wall
    # only roughly facing surfaces (within 60 deg) bound a wall or a gap: rays that graze a
    # neighbouring face at a corner measure the corner, not a wall
    ok_wall = (wface >= 0) & (np.einsum("ij,ij->i", facts.normals[np.maximum(wface, 0)], -n) > 0.5)
    ok_gap = (gface >= 0) & (np.einsum("ij,ij->i", facts.normals[np.maximum(gface, 0)], n) < -0.5)
    wall = np.where(ok_wall, wall + eps, np.inf)
    gap = np.where(ok_gap, gap + eps, np.inf)
    return Thickness(points_mm=pts, faces=face, wall_mm=wall, gap_mm=gap, engine=caster.engine)


def thin_regions(th: Thickness, threshold_mm: float, link_mm: float) -> list[IntArray]:
    """Clusters (sample indices, thinnest first) of samples with wall < threshold_mm, linking samples
    closer than link_mm."""
    from scipy import sparse
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    thin = np.flatnonzero(th.wall_mm < threshold_mm)
    if len(thin) == 0:
        return []
    pairs = cKDTree(th.points_mm[thin]).query_pairs(link_mm, output_type="ndarray")
    g = sparse.coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(thin), len(thin)))
    _, label = connected_components(g, directed=False)
    groups = [thin[label == k] for k in range(int(label.max()) + 1)]
    return sorted(groups, key=lambda idx: float(th.wall_mm[idx].min()))
