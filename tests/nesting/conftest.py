"""Fixtures for the nesting tests: small machine models and generated parts."""

from __future__ import annotations

import pytest
import trimesh

from fabgrid.domain.catalog import MachineModel, ProcessFamily
from fabgrid.nesting.parts import NestPart, part_from_mesh

from ._checks import machine


@pytest.fixture
def sls() -> MachineModel:
    return machine(ProcessFamily.SLS, (120.0, 100.0, 150.0))


@pytest.fixture
def fdm() -> MachineModel:
    return machine(ProcessFamily.FDM, (180.0, 150.0, 120.0))


@pytest.fixture
def mixed_parts() -> list[NestPart]:
    """A box, a cylinder and a torus (non-convex) with copies, all watertight."""
    return [
        part_from_mesh(trimesh.creation.box((30, 20, 10)), "box", copies=4),
        part_from_mesh(trimesh.creation.cylinder(radius=8, height=35), "cyl", copies=3),
        part_from_mesh(trimesh.creation.annulus(r_min=9, r_max=16, height=8), "ring", copies=3),
    ]
