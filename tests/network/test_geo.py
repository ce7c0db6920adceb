"""Great-circle and road distances, shipping days/cost/CO2 from the logistics data."""

from __future__ import annotations

import numpy as np
import pytest

from fabgrid.errors import NotFoundError
from fabgrid.network import geo


def test_great_circle_known_distances() -> None:
    # one degree of latitude is ~111.2 km on the mean sphere
    assert geo.great_circle_km(0, 0, 1, 0) == pytest.approx(111.19, abs=0.05)
    # Changsha - Beijing is about 1,340 km as the crow flies
    lg = geo.load_logistics()
    cs, bj = lg.city("Changsha"), lg.city("beijing")
    d = float(geo.great_circle_km(cs.lat, cs.lon, bj.lat, bj.lon))
    assert 1300 < d < 1380
    assert float(geo.great_circle_km(bj.lat, bj.lon, cs.lat, cs.lon)) == pytest.approx(d)
    assert float(geo.great_circle_km(cs.lat, cs.lon, cs.lat, cs.lon)) == 0.0


def test_vectorised_and_monotone_tariffs() -> None:
    road = np.array([10.0, 100, 400, 900, 1500, 3000, 5000])
    days = geo.shipping_days(road)
    cost = geo.shipping_cny_per_unit(road, 2.0)
    co2 = geo.shipping_co2_kg_per_unit(road, 2.0)
    assert days.shape == cost.shape == co2.shape == (7,)
    assert np.all(np.diff(days) >= 0) and np.all(np.diff(cost) >= 0) and np.all(np.diff(co2) > 0)
    assert geo.shipping_cny_per_unit(np.array([50.0]), 0.0)[0] == 0.0       # massless: no charge
    lg = geo.load_logistics()
    assert geo.road_km(100.0)[()] == pytest.approx(100.0 * lg.circuity_factor)


def test_unknown_city_is_a_clear_error() -> None:
    with pytest.raises(NotFoundError, match="Atlantis"):
        geo.load_logistics().city("Atlantis")
