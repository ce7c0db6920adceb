"""Use case of splitting a multi-body 3MF (issue 17, item 5): each object / build item of the file becomes a part
of its own (a binary STL in mm, analysed like an upload), so that each can be quoted and ordered as its own line.

Limits: only 3MF files (their objects and build items are the bodies; an STL's solids are not split), at least 2
and at most `MAX_BODIES` bodies, each of at least `MIN_BODY_TRIANGLES` triangles; the original part stays as it
is. The owner's read of the design is logged (action owner_split). Depends on services.parts and services.designs
and the geometry loader; never on api, web or cli.
"""

from __future__ import annotations

import re
from pathlib import PurePath

import numpy as np

from fabgrid.config import Settings
from fabgrid.domain.records import StoredPart
from fabgrid.errors import InputError
from fabgrid.services import designs, parts
from fabgrid.services.accounts import Principal

#: Bodies one split may make at most (each becomes a part and is analysed).
MAX_BODIES = 50
#: A body needs at least this many triangles (a closed solid has 4 or more).
MIN_BODY_TRIANGLES = 4
_SAFE = re.compile(r"[^A-Za-z0-9_\-\u4e00-\u9fff]+")


def split_part(settings: Settings, who: Principal, part_id: str) -> list[StoredPart]:
    """One new part per body of a 3MF part of the caller's organisation, in the file's body order; 422 for another
    format or a body that is too small, 409 for a one-body file, 413 above `MAX_BODIES`."""
    import trimesh

    from fabgrid.geometry.load import load_bytes

    part = designs.record_owner_access(settings, who, part_id, "owner_split")
    if PurePath(part.filename).suffix.lower() != ".3mf":
        raise InputError(f"{part.filename} is not a 3MF file: only a 3MF's objects are split into parts",
                         hint="export each body as its own file, or the assembly as 3MF", code="part.split_format")
    loaded = load_bytes(designs.read_design(settings, part), part.filename, units=part.units, guess=True)
    group = loaded.group if loaded.group is not None else np.zeros(len(loaded.faces), dtype=np.int64)
    ids = [int(g) for g in np.unique(group)]
    if len(ids) < 2:
        raise InputError(f"{part.filename} holds one body: there is nothing to split", code="part.single_body",
                         status=409)
    if len(ids) > MAX_BODIES:
        raise InputError(f"{part.filename} holds {len(ids)} bodies, more than {MAX_BODIES} can be split at once",
                         hint="split the assembly into several 3MF files", code="part.too_many_bodies", status=413)
    bodies = []
    for g in ids:
        faces = loaded.faces[group == g]
        name = loaded.group_names[g] if g < len(loaded.group_names) else f"body{g + 1}"
        if len(faces) < MIN_BODY_TRIANGLES:
            raise InputError(f"body {name!r} of {part.filename} has {len(faces)} triangles, fewer than "
                             f"{MIN_BODY_TRIANGLES}", hint="remove the stray geometry in CAD and export again",
                             code="part.body_too_small")
        mesh = trimesh.Trimesh(loaded.vertices, faces, process=False)
        mesh.remove_unreferenced_vertices()
        data = mesh.export(file_type="stl")
        bodies.append((name, data if isinstance(data, bytes) else str(data).encode()))
    stem = PurePath(part.filename).stem
    out = []
    for k, (name, data) in enumerate(bodies, start=1):
        label = _SAFE.sub("_", name).strip("_")[:60] or f"body{k}"
        stored, _ = parts.upload_bytes(settings, who, f"{stem}-{k}-{label}.stl", data, units="mm")
        out.append(stored)
    return out
