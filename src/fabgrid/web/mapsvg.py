"""Draws the network on an SVG map of China from the shipped outline (no online tiles).

Pure functions: a GeoJSON outline and site coordinates in, SVG path strings and points out.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from importlib import resources
from typing import Any

# The drawn window (degrees): mainland China with Hainan and Taiwan.
LON_MIN, LON_MAX = 73.0, 135.5
LAT_MIN, LAT_MAX = 17.5, 54.0
WIDTH = 800.0


@dataclass(frozen=True)
class Projection:
    """Equirectangular projection scaled by cos(mid latitude), in SVG user units."""

    scale: float
    height: float

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        """SVG coordinates of a point."""
        k = math.cos(math.radians((LAT_MIN + LAT_MAX) / 2))
        x = (lon - LON_MIN) * k * self.scale
        y = (LAT_MAX - lat) * self.scale
        return round(x, 1), round(y, 1)


def projection() -> Projection:
    """The projection that fits the window into WIDTH units."""
    k = math.cos(math.radians((LAT_MIN + LAT_MAX) / 2))
    scale = WIDTH / ((LON_MAX - LON_MIN) * k)
    return Projection(scale=scale, height=round((LAT_MAX - LAT_MIN) * scale, 1))


@functools.cache
def _outline() -> dict[str, Any]:
    text = (resources.files("fabgrid.data") / "geo" / "china_outline.geojson").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def outline_paths() -> list[str]:
    """SVG path data (`d`) of each outline feature."""
    proj = projection()
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
    return paths


def outline_source() -> str:
    """Where the outline comes from (shown under the map)."""
    return str(_outline().get("source", ""))
