"""Write a build: a 3MF with every placed part as its own object, and a PNG picture (top + front).

Uses trimesh for 3MF and matplotlib (Agg) for the picture. Must not depend on store, services,
api, web or cli.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import trimesh

from fabgrid.domain.build import Build
from fabgrid.errors import InputError
from fabgrid.nesting.parts import NestPart

MAX_DRAWN_FACES = 4000  # per part in the picture; larger meshes are drawn from their convex hull


def build_scene(build: Build, parts: Sequence[NestPart]) -> trimesh.Scene:
    """A scene with one node per placement (``part#copy``), each carrying its build transform."""
    by_name = {p.name: p for p in parts}
    scene = trimesh.Scene()
    for pl in build.placements:
        mesh = by_name[pl.part].mesh.copy()
        mesh.apply_transform(np.asarray(pl.transform))
        scene.add_geometry(mesh, node_name=f"{pl.part}#{pl.instance}", geom_name=f"{pl.part}#{pl.instance}")
    return scene


def write_3mf(build: Build, parts: Sequence[NestPart], path: str | Path) -> Path:
    """Write the placed parts as a 3MF (mm) at `path`; written to a temporary name, then renamed."""
    out = Path(path)
    if not out.parent.is_dir():
        raise InputError(f"folder {out.parent} of {out} does not exist", hint="create it first",
                         code="nest.out_dir")
    data = build_scene(build, parts).export(file_type="3mf")  # type: ignore[no-untyped-call]
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(data if isinstance(data, bytes) else bytes(data))
    tmp.replace(out)
    return out


def _projected(mesh: trimesh.Trimesh, axes: tuple[int, int]) -> np.ndarray:
    m = mesh if len(mesh.faces) <= MAX_DRAWN_FACES else mesh.convex_hull
    tri = m.vertices[m.faces][:, :, list(axes)]
    return np.asarray(tri)


def write_png(build: Build, parts: Sequence[NestPart], path: str | Path, *, dpi: int = 110) -> Path:
    """Draw the build from the top (XY) and the front (XZ) inside the machine's volume."""
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
    w, d, h = build.build_volume_mm
    fig, (top, front) = plt.subplots(1, 2, figsize=(11, 5.5))
    cmap = plt.get_cmap("tab20")
    for k, pl in enumerate(build.placements):
        mesh = by_name[pl.part].mesh.copy()
        mesh.apply_transform(np.asarray(pl.transform))
        colour = cmap(k % 20)
        for ax, axes in ((top, (0, 1)), (front, (0, 2))):
            ax.add_collection(PolyCollection(list(_projected(mesh, axes)), facecolors=[colour],
                                             edgecolors="none", alpha=0.85, rasterized=True))
        top.text(pl.x + pl.size_mm[0] / 2, pl.y + pl.size_mm[1] / 2, pl.part[:12], fontsize=6,
                 ha="center", va="center")
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
    fig.suptitle(f"{build.machine_model}: {len(build.placements)} parts, height {build.height_mm:.1f} mm, "
                 f"density {build.density:.1%}")
    fig.tight_layout()
    tmp = out.with_name(out.name + ".tmp.png")
    fig.savefig(tmp, dpi=dpi)
    plt.close(fig)
    tmp.replace(out)
    return out
