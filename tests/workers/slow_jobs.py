"""A job kind for the worker-death tests, importable by a real Celery worker process: it notes each start and
finish (with the process id) in a file, then sleeps, so a test can kill the process in the middle."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from fabgrid.config import Settings
from fabgrid.services import jobs


@jobs.register("test_slow")
def slow(settings: Settings, params: dict[str, Any]) -> dict[str, Any]:
    log = Path(params["log"])
    with log.open("a", encoding="utf-8") as fh:
        fh.write(f"start {os.getpid()}\n")
    time.sleep(float(params["sleep_s"]))
    with log.open("a", encoding="utf-8") as fh:
        fh.write(f"finish {os.getpid()}\n")
    return {"pid": os.getpid()}


if __name__ == "__main__":  # `python slow_jobs.py worker ...`: the fabgrid CLI with this kind registered
    from fabgrid.cli import main

    main()
