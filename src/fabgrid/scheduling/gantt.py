"""Gantt chart of a schedule as a PNG (matplotlib, Agg backend): one row per resource, one colour per job.

Off-shift time and maintenance are shaded. Depends on matplotlib, problem and domain records; no solver.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from fabgrid.domain.schedule import ScheduledOperation
from fabgrid.errors import InputError
from fabgrid.scheduling.problem import Problem

MAX_ROWS = 200


def gantt_png(problem: Problem, operations: Sequence[ScheduledOperation], path: str | Path, *,
              title: str = "", time_unit: str = "", scale: float = 1.0,
              label: Callable[[ScheduledOperation], str] | None = None) -> Path:
    """Draw ``operations`` to ``path`` (PNG). ``scale`` divides times (e.g. 60 for hours from minutes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    out = Path(path)
    if out.parent and not out.parent.is_dir():
        raise InputError(f"{out}: folder {out.parent} does not exist", hint="create it or pick another path",
                         code="schedule.gantt_path")
    used = sorted({o.machine for o in operations if o.machine is not None})
    if len(used) > MAX_ROWS:
        raise InputError(f"{len(used)} resources are too many rows for a Gantt picture (max {MAX_ROWS})",
                         hint="leave out --gantt", code="schedule.gantt_size")
    row = {r: i for i, r in enumerate(used)}
    end = max((o.end for o in operations), default=1) / scale
    fig, ax = plt.subplots(figsize=(min(24.0, 8 + 0.04 * len(operations)), 1.2 + 0.4 * max(1, len(used))),
                           dpi=110)
    cmap = plt.get_cmap("tab20")
    if problem.work_windows is not None:
        prev = 0.0
        for a, b in problem.work_windows:
            if a / scale > prev:
                ax.axvspan(prev, min(a / scale, end), color="0.92", zorder=0)
            prev = b / scale
            if prev >= end:
                break
        if prev < end:
            ax.axvspan(prev, end, color="0.92", zorder=0)
    for r in used:
        for a, b in problem.resources[r].down:
            if a / scale < end:
                ax.barh(row[r], (b - a) / scale, left=a / scale, height=0.8, color="none", hatch="///",
                        edgecolor="red", zorder=1)
    for o in operations:
        if o.machine is None:
            continue
        ax.barh(row[o.machine], (o.end - o.start) / scale, left=o.start / scale, height=0.7,
                color=cmap(o.job % 20), edgecolor="black", linewidth=0.4, zorder=2)
        if label is not None and (o.end - o.start) / scale > end / 60:
            ax.text((o.start + o.end) / 2 / scale, row[o.machine], label(o), ha="center", va="center",
                    fontsize=6, zorder=3, clip_on=True)
    ax.set_yticks(range(len(used)), [problem.resources[r].name for r in used], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, end)
    ax.set_xlabel(f"time ({time_unit})" if time_unit else "time")
    ax.set_title(title or problem.name)
    handles = [Patch(color="0.92", label="off shift"),
               Patch(facecolor="none", edgecolor="red", hatch="///", label="maintenance")]
    ax.legend(handles=handles, loc="upper right", fontsize=7)
    fig.tight_layout()
    try:
        fig.savefig(out, format="png")
    except OSError as exc:
        raise InputError(f"{out}: cannot write the picture ({exc.strerror})",
                         hint="pick a writable path", code="schedule.gantt_path") from None
    finally:
        plt.close(fig)
    return out
