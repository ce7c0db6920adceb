"""DFM rules: a registry of mesh rules and per-process rules that turn geometry facts into findings.

Importing this package registers the shipped rules. Depends on the geometry engine and the domain
records only; never on store, services or web.
"""

from fabgrid.geometry.dfm import mesh_rules, process_rules
from fabgrid.geometry.dfm.registry import (
    MESH_RULES,
    PROCESS_RULES,
    MeshContext,
    ProcessContext,
    mesh_rule,
    process_rule,
    run_mesh_rules,
    run_process_rules,
)

__all__ = [
    "MESH_RULES",
    "PROCESS_RULES",
    "MeshContext",
    "ProcessContext",
    "mesh_rule",
    "mesh_rules",
    "process_rule",
    "process_rules",
    "run_mesh_rules",
    "run_process_rules",
]
