"""Write a build: a 3MF with every placed part as its own object (and its supports as another, on
metal PBF plates), and a PNG picture (top + front, supports in grey).

Uses trimesh for 3MF and matplotlib (Agg) for the picture. Must not depend on store, services,
api, web or cli.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import trimesh

from fabgrid.domain.build import Build
from fabgrid.errors import InputError
from fabgrid.nesting.parts import NestPart
from fabgrid.nesting.supports import MAX_SUPPORT_FACES, SupportRules, part_supports

MAX_DRAWN_FACES = 4000  # per part in the picture; larger meshes are drawn from their convex hull
SUPPORT_COLOUR = "#4d4d4d"  # supports in the picture: dark grey, apart from the parts' tab20 colours
SUPPORT_SUFFIX = " support"  # 3MF object of a placement's supports: ``part#copy support``


def support_meshes(build: Build, parts: Sequence[NestPart], max_faces: int = MAX_SUPPORT_FACES,
                   rules: SupportRules | None = None) -> dict[str, trimesh.Trimesh]:
    """The support mesh of each part of `build` (file coordinates, at most `max_faces` triangles),
    by part name; empty when the build has no supports. The rules are those the build records (`rules`
    replaces their overhang angle); the lift is the one the build records."""
    angle = rules.overhang_angle_deg if rules is not None else build.support_overhang_deg
    if angle is None or not any(pl.support_volume_mm3 > 0 for pl in build.placements):
        return {}
    rules = SupportRules(lift_mm=build.support_lift_mm, overhang_angle_deg=angle)
    by_name = {p.name: p for p in parts}
    out: dict[str, trimesh.Trimesh] = {}
    for name in dict.fromkeys(pl.part for pl in build.placements):
        mesh = part_supports(by_name[name].mesh, rules, max_faces=max_faces).mesh
        if mesh is not None:
            out[name] = mesh
    return out


def build_scene(build: Build, parts: Sequence[NestPart], rules: SupportRules | None = None) -> trimesh.Scene:
    """A scene with one node per placement (``part#copy``), each carrying its build transform, and
    one per placement with supports (``part#copy support``), placed by the same transform."""
    by_name = {p.name: p for p in parts}
    held = support_meshes(build, parts, rules=rules)
    scene = trimesh.Scene()
    for pl in build.placements:
        name = f"{pl.part}#{pl.instance}"
        for mesh, node in ((by_name[pl.part].mesh, name), (held.get(pl.part), name + SUPPORT_SUFFIX)):
            if mesh is None:
                continue
            placed = mesh.copy()
            placed.apply_transform(np.asarray(pl.transform))
            scene.add_geometry(placed, node_name=node, geom_name=node)
    return scene


def write_3mf(build: Build, parts: Sequence[NestPart], path: str | Path, rules: SupportRules | None = None) -> Path:
    """Write the placed parts (and their supports) as a 3MF (mm) at `path`; written to a temporary
    name, then renamed."""
    out = Path(path)
    if not out.parent.is_dir():
        raise InputError(f"folder {out.parent} of {out} does not exist", hint="create it first",
                         code="nest.out_dir")
    data = build_scene(build, parts, rules).export(file_type="3mf")  # type: ignore[no-untyped-call]
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(data if isinstance(data, bytes) else bytes(data))
    tmp.replace(out)
    return out


def _projected(mesh: trimesh.Trimesh, axes: tuple[int, int]) -> np.ndarray:
    m = mesh if len(mesh.faces) <= MAX_DRAWN_FACES else mesh.convex_hull
    tri = m.vertices[m.faces][:, :, list(axes)]
    return np.asarray(tri)


def _draw(mesh: trimesh.Trimesh, transform: tuple[tuple[float, ...], ...], colour: str, ax: Any,
          axes: tuple[int, int]) -> None:
    """Fill the projection of `mesh`, moved by `transform`, on the plane of `axes` into `ax`."""
    from matplotlib.collections import PolyCollection

    placed = mesh.copy()
    placed.apply_transform(np.asarray(transform))
    ax.add_collection(PolyCollection(list(placed.vertices[placed.faces][:, :, list(axes)]),
                                     facecolors=[colour], edgecolors="none", alpha=0.9, rasterized=True))


def write_png(build: Build, parts: Sequence[NestPart], path: str | Path, *, dpi: int = 110,
              rules: SupportRules | None = None) -> Path:
    """Draw the build from the top (XY) and the front (XZ) inside the machine's volume, supports
    under the parts in grey."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection
    from matplotlib.patches import Rectangle

    out = Path(path)
    if not out.parent.is_dir():
        raise InputError(f"folder {out.parent} of {out} does not exist", hint="create it first",
                         code="nest.out_dir")
    by_name = {p.name: p for p in parts}
    held = support_meshes(build, parts, max_faces=MAX_DRAWN_FACES, rules=rules)
    w, d, h = build.build_volume_mm
    fig, (top, front) = plt.subplots(1, 2, figsize=(11, 5.5))
    cmap = plt.get_cmap("tab20")
    for pl in build.placements:  # under the parts seen from the top
        if pl.part in held:
            _draw(held[pl.part], pl.transform, SUPPORT_COLOUR, top, (0, 1))
    for k, pl in enumerate(build.placements):
        mesh = by_name[pl.part].mesh.copy()
        mesh.apply_transform(np.asarray(pl.transform))
        colour = cmap(k % 20)
        for ax, axes in ((top, (0, 1)), (front, (0, 2))):
            ax.add_collection(PolyCollection(list(_projected(mesh, axes)), facecolors=[colour],
                                             edgecolors="none", alpha=0.85, rasterized=True))
        top.text(pl.x + pl.size_mm[0] / 2, pl.y + pl.size_mm[1] / 2, pl.part[:12], fontsize=6,
                 ha="center", va="center")
    for pl in build.placements:  # over the parts seen from the front: they stand on them
        if pl.part in held:
            _draw(held[pl.part], pl.transform, SUPPORT_COLOUR, front, (0, 2))
    for ax, (sx, sy), label in ((top, (w, d), ("X mm", "Y mm")), (front, (w, h), ("X mm", "Z mm"))):
        ax.add_patch(Rectangle((0, 0), sx, sy, fill=False, edgecolor="black", linewidth=1.0))
        ax.set_xlim(-0.02 * sx, 1.02 * sx)
        ax.set_ylim(-0.02 * sy, 1.02 * sy)
        ax.set_aspect("equal")
        ax.set_xlabel(label[0])
        ax.set_ylabel(label[1])
    front.axhline(build.height_mm, color="red", linewidth=0.8, linestyle="--")
    top.set_title("top")
    front.set_title("front")
    held_text = f", supports {build.support_volume_mm3 / 1000:.1f} cm3 (grey)" if held else ""
    fig.suptitle(f"{build.machine_model}: {len(build.placements)} parts, height {build.height_mm:.1f} mm, "
                 f"density {build.density:.1%}{held_text}")
    fig.tight_layout()
    tmp = out.with_name(out.name + ".tmp.png")
    fig.savefig(tmp, dpi=dpi)
    plt.close(fig)
    tmp.replace(out)
    return out
