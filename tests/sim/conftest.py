"""Fixtures shared by the simulator tests: the shipped network, its assumptions, a small part library."""

from __future__ import annotations

import pytest

from fabgrid.data import load_network
from fabgrid.domain.catalog import Network
from fabgrid.domain.sim import SimParams
from fabgrid.sim.config import load_params
from fabgrid.sim.library import Library, build_library


@pytest.fixture(scope="session")
def network() -> Network:
    return load_network()


@pytest.fixture(scope="session")
def params() -> SimParams:
    return load_params()


@pytest.fixture(scope="session")
def library(network: Network, params: SimParams) -> Library:
    return build_library(network, params, n_parts=6, measure_packing=False)


@pytest.fixture(scope="session")
def sites(network: Network) -> tuple[str, ...]:
    return tuple(s for s in sorted(network.sites) if network.sites[s].province == "Hunan")[:14]
