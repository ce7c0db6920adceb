"""Draws the network on an SVG map from the shipped outline (no online tiles): China, a province or a park,
zoomed and panned by the view; sites clustered on a grid of screen cells at low zoom, labelled at high zoom.

Pure functions: a GeoJSON outline, a view and site coordinates in, SVG path strings, points and clusters out.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

# The drawn window of the whole map (degrees): mainland China with Hainan and Taiwan.
LON_MIN, LON_MAX = 73.0, 135.5
LAT_MIN, LAT_MAX = 17.5, 54.0
WIDTH = 800.0
#: Zoom levels: 0 China, 1 a province (degrees of latitude shown), 2 a park.
LEVELS = (0, 1, 2)
SPAN_DEG = {1: 6.5, 2: 0.9}
#: Sites closer than this on screen (SVG units) are drawn as one cluster; none at the park level.
CLUSTER_PX = {0: 26.0, 1: 18.0, 2: 0.0}
#: Site names are written from this level on.
LABEL_LEVEL = 2


@dataclass(frozen=True)
class View:
    """A window of the map: its bounds in degrees and its zoom level."""

    lon_min: float
    lon_max: float
    lat_min: float
    lat_max: float
    level: int = 0

    @property
    def center(self) -> tuple[float, float]:
        """(lon, lat) of the middle."""
        return (self.lon_min + self.lon_max) / 2, (self.lat_min + self.lat_max) / 2


CHINA = View(LON_MIN, LON_MAX, LAT_MIN, LAT_MAX, 0)


def view(level: int = 0, center: tuple[float, float] | None = None) -> View:
    """The view at `level` around `center` (lon, lat); level 0 is the whole of China."""
    if level <= 0 or center is None:
        return CHINA
    lat_span = SPAN_DEG[min(level, 2)]
    lon, lat = center
    lon_span = lat_span / max(0.2, math.cos(math.radians(lat))) / 0.75  # a 4:3 window
    return View(lon - lon_span / 2, lon + lon_span / 2, lat - lat_span / 2, lat + lat_span / 2, min(level, 2))


def panned(v: View, dx: int, dy: int) -> View:
    """`v` moved by `dx` thirds of its width east and `dy` thirds of its height north."""
    if v.level == 0:
        return v
    lon, lat = v.center
    return view(v.level, (lon + dx * (v.lon_max - v.lon_min) / 3, lat + dy * (v.lat_max - v.lat_min) / 3))


@dataclass(frozen=True)
class Projection:
    """Equirectangular projection of a view scaled by cos(mid latitude), in SVG user units."""

    scale: float
    height: float
    lon_min: float = LON_MIN
    lat_max: float = LAT_MAX
    k: float = math.cos(math.radians((LAT_MIN + LAT_MAX) / 2))

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        """SVG coordinates of a point."""
        x = (lon - self.lon_min) * self.k * self.scale
        y = (self.lat_max - lat) * self.scale
        return round(x, 1), round(y, 1)


def projection(v: View = CHINA) -> Projection:
    """The projection that fits the view into WIDTH units."""
    k = math.cos(math.radians((v.lat_min + v.lat_max) / 2))
    scale = WIDTH / ((v.lon_max - v.lon_min) * k)
    return Projection(scale=scale, height=round((v.lat_max - v.lat_min) * scale, 1), lon_min=v.lon_min,
                      lat_max=v.lat_max, k=k)


@functools.cache
def _outline() -> dict[str, Any]:
    text = (resources.files("fabgrid.data") / "geo" / "china_outline.geojson").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@functools.cache
def _paths(v: View) -> tuple[str, ...]:
    proj = projection(v)
    paths = []
    for feature in _outline()["features"]:
        geom = feature["geometry"]
        polygons = geom["coordinates"] if geom["type"] == "MultiPolygon" else [geom["coordinates"]]
        parts = []
        for poly in polygons:
            for ring in poly:
                pts = [proj.xy(lon, lat) for lon, lat in ring]
                parts.append("M" + "L".join(f"{x},{y}" for x, y in pts) + "Z")
        paths.append("".join(parts))
    return tuple(paths)


def outline_paths(v: View = CHINA) -> list[str]:
    """SVG path data (`d`) of each outline feature in the view (the SVG's viewBox clips what lies outside)."""
    return list(_paths(v))


def outline_source() -> str:
    """Where the outline comes from (shown under the map)."""
    return str(_outline().get("source", ""))


@dataclass(frozen=True)
class Cluster:
    """Sites drawn as one mark: their ids, the mark's place (mean of theirs) and centre in degrees."""

    site_ids: tuple[str, ...]
    x: float
    y: float
    lon: float
    lat: float
    members: tuple[int, ...] = field(default=())


def clusters(points: Sequence[tuple[str, float, float, float, float]], level: int) -> list[Cluster]:
    """Group `points` (site id, x, y, lon, lat) whose screen positions fall in one grid cell of the level's size;
    every point its own cluster at the park level. Deterministic (cells in order of their first point)."""
    cell = CLUSTER_PX.get(level, 0.0)
    groups: dict[tuple[int, int], list[int]] = {}
    for i, (_sid, x, y, _lon, _lat) in enumerate(points):
        key = (i, 0) if cell <= 0 else (math.floor(x / cell), math.floor(y / cell))
        groups.setdefault(key, []).append(i)
    out = []
    for idx in groups.values():
        n = len(idx)
        out.append(Cluster(site_ids=tuple(points[i][0] for i in idx), x=round(sum(points[i][1] for i in idx) / n, 1),
                           y=round(sum(points[i][2] for i in idx) / n, 1),
                           lon=round(sum(points[i][3] for i in idx) / n, 4),
                           lat=round(sum(points[i][4] for i in idx) / n, 4), members=tuple(idx)))
    return out


#: Width of one character of a label and the height of a label line, SVG units (9 px text; CJK are wider).
CHAR_W, LINE_H = 4.6, 10.0


def place_labels(marks: Sequence[tuple[float, float, float, str]]) -> list[tuple[float, float, str] | None]:
    """Where to write each label (x, y, text-anchor) beside its mark (x, y, radius, text) without overlapping the
    labels placed before it: right of the mark, else left, else a line lower or higher; None when nothing fits (the
    mark's hover text still names it). Greedy, in the order given."""
    placed: list[tuple[float, float, float, float]] = []

    def free(x0: float, y0: float, x1: float, y1: float) -> bool:
        return all(x1 <= a0 or x0 >= a1 or y1 <= b0 or y0 >= b1 for a0, b0, a1, b1 in placed)

    out: list[tuple[float, float, str] | None] = []
    for x, y, r, text in marks:
        w = sum(CHAR_W * (2 if ord(ch) > 0x2E80 else 1) for ch in text)
        spot = None
        for dy in (0.0, LINE_H, -LINE_H, 2 * LINE_H, -2 * LINE_H):
            for side in ("start", "end"):
                lx = x + r + 2 if side == "start" else x - r - 2
                box = (lx, y + dy - 7, lx + w, y + dy + 3) if side == "start" else (lx - w, y + dy - 7, lx, y + dy + 3)
                if free(*box):
                    spot = (round(lx, 1), round(y + dy + 3, 1), side)
                    placed.append(box)
                    break
            if spot is not None:
                break
        out.append(spot)
    return out
