"""Fixtures for the geometry tests: process rules and machine models built from the domain records."""

from __future__ import annotations

import pytest

from fabgrid.domain.catalog import MachineModel, Process, ProcessFamily

from ._helpers import make_machine, make_process


@pytest.fixture
def processes() -> list[Process]:
    return [make_process(ProcessFamily.FDM, 0.8), make_process(ProcessFamily.SLA, 0.5, escape=True, overhang=30),
            make_process(ProcessFamily.SLS, 0.7, escape=True, overhang=None)]


@pytest.fixture
def machines() -> list[MachineModel]:
    return [make_machine("small_fdm", ProcessFamily.FDM, (100, 100, 100)),
            make_machine("big_fdm", ProcessFamily.FDM, (300, 300, 300)),
            make_machine("sla1", ProcessFamily.SLA, (150, 150, 150)),
            make_machine("sls1", ProcessFamily.SLS, (300, 300, 300))]
