"""Child process of test_benchmark_meshes: analyse every file and folder under a directory, print one
JSON line per entry (report facts or the InputError code). A crash or hang shows in the parent."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from fabgrid.errors import InputError
from fabgrid.services.analysis import analyze_file


def main(folder: str) -> None:
    root = Path(folder)
    entries = sorted(p for p in root.rglob("*"))
    print(json.dumps({"count": len(entries)}), flush=True)
    for p in entries:
        t, c = time.perf_counter(), time.process_time()
        rec: dict[str, object] = {"file": str(p.relative_to(root))}
        try:
            r = analyze_file(p, thickness_samples=500)
            rec.update(status="report", volume=r.volume_mm3, area=r.area_mm2, bbox=r.bbox_mm,
                       watertight=r.watertight, winding=r.winding_consistent, units=r.units,
                       triangles=r.triangles, findings=len(r.findings))
        except InputError as exc:
            rec.update(status="input_error", code=exc.code, message=exc.message)
        rec["seconds"] = time.perf_counter() - t
        rec["cpu_s"] = time.process_time() - c
        print(json.dumps(rec), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
