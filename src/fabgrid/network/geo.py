"""Geography of shipping: great-circle and road distances, transit days, cost and CO2 between places.

Vectorised numpy over arrays of origins/destinations. Figures (road factor, tariff bands, CO2
intensity, city coordinates) come from `fabgrid/data/logistics.yaml`. Depends on numpy and yaml only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt

from fabgrid.errors import InputError, NotFoundError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Mean Earth radius (IUGG), km: a definition, not a tariff.
EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True)
class City:
    """A destination city with its province and coordinates."""

    name: str
    province: str
    lat: float
    lon: float
    #: the city's Chinese name (pages in zh-CN); empty in logistics data stored before it was recorded
    name_zh: str = ""


@dataclass(frozen=True)
class Logistics:
    """Road factor, tariff bands and CO2 intensity loaded from logistics.yaml."""

    circuity_factor: float
    band_max_km: FloatArray
    band_cny_per_kg: FloatArray
    band_days: IntArray
    min_cny_per_unit: float
    co2_kg_per_t_km: float
    cities: dict[str, City]
    #: price of a consignment's first started kilogram per band (None: data without it, priced per unit)
    band_first_kg_cny: FloatArray | None = None
    #: Chinese names of the provinces cities lie in that provinces.yaml (tariffs) does not list
    province_names_zh: dict[str, str] = field(default_factory=dict)

    def city(self, name: str) -> City:
        """The city called `name` (case-insensitive); NotFoundError names a few known cities."""
        c = self.cities.get(name.casefold())
        if c is None:
            known = ", ".join(sorted(v.name for v in self.cities.values())[:8])
            raise NotFoundError(f"unknown destination city {name!r}",
                                hint=f"give destination_lat/lon, or use a known city ({known}, ...)")
        return c


def parse_logistics(doc: dict[str, Any]) -> Logistics:
    """Logistics figures from the mapping of a logistics.yaml document."""
    bands = doc["tariff"]["bands"]
    max_km = np.array([float(b["max_road_km"]) for b in bands])
    if np.any(np.diff(max_km) <= 0):
        raise InputError("logistics.yaml: tariff bands must have increasing max_road_km")
    cities = {str(c["name"]).casefold(): City(str(c["name"]), str(c["province"]), float(c["lat"]),
                                              float(c["lon"]), str(c.get("name_zh") or "")) for c in doc["cities"]}
    first = [b.get("first_kg_cny") for b in bands]
    return Logistics(
        band_first_kg_cny=np.array([float(f) for f in first]) if all(f is not None for f in first) else None,
        circuity_factor=float(doc["road"]["circuity_factor"]),
        band_max_km=max_km,
        band_cny_per_kg=np.array([float(b["cny_per_kg"]) for b in bands]),
        band_days=np.array([int(b["days"]) for b in bands], dtype=np.int64),
        min_cny_per_unit=float(doc["tariff"].get("min_cny_per_unit", 0.0)),
        co2_kg_per_t_km=float(doc["co2"]["road_freight_kg_per_t_km"]),
        cities=cities,
        province_names_zh={str(k): str(v) for k, v in (doc.get("provinces_zh") or {}).items()},
    )


@lru_cache(maxsize=1)
def load_logistics() -> Logistics:
    """The shipped logistics figures (cached)."""
    import yaml  # here: a quote that reads its logistics from `services.shipped`'s cache never imports PyYAML

    text = resources.files("fabgrid.data").joinpath("logistics.yaml").read_text(encoding="utf-8")
    # libyaml's parser where PyYAML has it: the same document as the pure-Python one in 4 ms instead of 16
    return parse_logistics(yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))


def great_circle_km(lat1: npt.ArrayLike, lon1: npt.ArrayLike, lat2: npt.ArrayLike,
                    lon2: npt.ArrayLike) -> FloatArray:
    """Haversine distance in km between points given in degrees; arrays broadcast."""
    p1, l1, p2, l2 = (np.radians(np.asarray(a, dtype=np.float64)) for a in (lat1, lon1, lat2, lon2))
    h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin((l2 - l1) / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0))), dtype=np.float64)


def road_km(great_circle: npt.ArrayLike, logistics: Logistics | None = None) -> FloatArray:
    """Estimated road distance from great-circle distance (circuity factor)."""
    lg = logistics or load_logistics()
    return np.asarray(np.asarray(great_circle, dtype=np.float64) * lg.circuity_factor, dtype=np.float64)


def _band(road: FloatArray, lg: Logistics) -> IntArray:
    idx = np.searchsorted(lg.band_max_km, road, side="left")
    return np.asarray(np.minimum(idx, len(lg.band_max_km) - 1), dtype=np.int64)


def shipping_days(road: npt.ArrayLike, logistics: Logistics | None = None) -> IntArray:
    """Door-to-door transit days for road distances in km (tariff bands)."""
    lg = logistics or load_logistics()
    r = np.asarray(road, dtype=np.float64)
    return np.asarray(lg.band_days[_band(r, lg)], dtype=np.int64)


def shipping_cny_per_unit(road: npt.ArrayLike, unit_mass_kg: npt.ArrayLike,
                          logistics: Logistics | None = None) -> FloatArray:
    """Shipping cost per unit in CNY: per-kg band rate x mass, at least the per-unit minimum."""
    lg = logistics or load_logistics()
    r = np.asarray(road, dtype=np.float64)
    m = np.asarray(unit_mass_kg, dtype=np.float64)
    cost = lg.band_cny_per_kg[_band(r, lg)] * m
    return np.asarray(np.where(m > 0, np.maximum(cost, lg.min_cny_per_unit), 0.0), dtype=np.float64)


def shipping_co2_kg_per_unit(road: npt.ArrayLike, unit_mass_kg: npt.ArrayLike,
                             logistics: Logistics | None = None) -> FloatArray:
    """Road-freight CO2e per unit in kg: intensity (kg/t.km) x tonnes x road km."""
    lg = logistics or load_logistics()
    r = np.asarray(road, dtype=np.float64)
    m = np.asarray(unit_mass_kg, dtype=np.float64)
    return np.asarray(lg.co2_kg_per_t_km * (m / 1000.0) * r, dtype=np.float64)


def shipping_between(lat1: npt.ArrayLike, lon1: npt.ArrayLike, lat2: npt.ArrayLike, lon2: npt.ArrayLike,
                     unit_mass_kg: npt.ArrayLike, logistics: Logistics | None = None,
                     ) -> tuple[FloatArray, IntArray, FloatArray]:
    """(cost CNY per unit, transit days, CO2 kg per unit) for shipments between points."""
    lg = logistics or load_logistics()
    road = road_km(great_circle_km(lat1, lon1, lat2, lon2), lg)
    return (shipping_cny_per_unit(road, unit_mass_kg, lg), shipping_days(road, lg),
            shipping_co2_kg_per_unit(road, unit_mass_kg, lg))


def road_km_between(lat1: float, lon1: float, lat2: float, lon2: float, logistics: Logistics | None = None) -> float:
    """Estimated road distance in km between two points (great circle x circuity factor)."""
    return float(road_km(great_circle_km(lat1, lon1, lat2, lon2), logistics)[()])


def consignment_cny(road: float, mass_kg: float, logistics: Logistics | None = None) -> float:
    """Price of one consignment of `mass_kg` over `road` km: the band's first-kilogram price, then its per-kg rate
    for every further started kilogram. Data without first-kilogram prices: the per-unit rate (at least the
    per-unit minimum), as `shipping_cny_per_unit` prices one unit."""
    lg = logistics or load_logistics()
    if mass_kg <= 0:
        return 0.0
    band = int(_band(np.asarray([float(road)]), lg)[0])
    if lg.band_first_kg_cny is None:
        return float(max(lg.band_cny_per_kg[band] * mass_kg, lg.min_cny_per_unit))
    extra_kg = max(0, math.ceil(mass_kg - 1e-9) - 1)
    return float(lg.band_first_kg_cny[band] + extra_kg * lg.band_cny_per_kg[band])
