"""deploy/: the Procfile's processes are commands the fabgrid CLI accepts (parsed by the CLI's own parser, not
run), each queue of the platform is served by one of its workers, and the example environment names only
settings fabgrid reads. The processes themselves run in tests/integration/test_deploy_cluster.py."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer

ROOT = Path(__file__).resolve().parents[1]
PROCFILE = ROOT / "deploy" / "Procfile"


def procfile(path: Path = PROCFILE) -> dict[str, str]:
    """``{process type: command}`` of a Procfile (comments and blank lines skipped)."""
    out: dict[str, str] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = re.fullmatch(r"([A-Za-z0-9_]+):\s*(\S.*)", line)
        assert m, f"{path.name}:{n}: not `name: command`"
        assert m[1] not in out, f"{path.name}:{n}: {m[1]} twice"
        out[m[1]] = m[2]
    return out


def expand(command: str, env: dict[str, str]) -> list[str]:
    """The argv of a Procfile command with ``${VAR}`` taken from `env` (a missing variable is an error)."""
    def var(m: re.Match[str]) -> str:
        assert m[1] in env, f"{command}: ${{{m[1]}}} is not set"
        return env[m[1]]

    return shlex.split(re.sub(r"\$\{([A-Z_]+)\}", var, command))


def test_every_process_is_a_command_the_cli_accepts() -> None:
    from fabgrid.cli import app

    root = typer.main.get_command(app)
    env = {"PORT": "8000", "FABGRID_MQTT_URL": "mqtt://127.0.0.1:1883", "HOSTNAME": "node1", "PS": "ingest.1"}
    procs = procfile()
    assert {"web", "ingest"} <= procs.keys() and any(k.startswith("worker") for k in procs)
    for name, command in procs.items():
        argv = expand(command, env)
        assert argv[0] == "fabgrid", f"{name}: runs {argv[0]}, not fabgrid"
        sub = root.get_command(None, argv[1])  # type: ignore[attr-defined,arg-type]
        assert sub is not None, f"{name}: fabgrid has no command {argv[1]!r}"
        sub.make_context(argv[1], argv[2:])  # raises a usage error on an unknown or malformed option


def test_the_workers_serve_every_queue() -> None:
    from fabgrid.cli.worker import parse_queues
    from fabgrid.services.jobs import QUEUES

    served: list[str] = []
    for name, command in procfile().items():
        if name.startswith("worker"):
            argv = shlex.split(command)
            served += parse_queues(argv[argv.index("--queues") + 1])
    assert sorted(served) == sorted(QUEUES), "each queue has exactly one worker type"


def test_the_example_environment_names_real_settings(tmp_path: Path) -> None:
    from fabgrid.config import Settings, settings_environ

    known = set(settings_environ(Settings(data_dir=tmp_path, database_url="sqlite://", broker_url=None,
                                          mqtt_url=None)))
    config_src = (ROOT / "src" / "fabgrid" / "config.py").read_text(encoding="utf-8")
    for n, line in enumerate((ROOT / "deploy" / "fabgrid.env.example").read_text(encoding="utf-8").splitlines(), 1):
        if line.strip() and not line.startswith("#"):
            key = line.split("=", 1)[0]
            assert key in known or f'"{key}"' in config_src, f"fabgrid.env.example:{n}: {key} is not a setting"


def test_a_broken_procfile_is_caught(tmp_path: Path) -> None:
    bad = tmp_path / "Procfile"
    bad.write_text("web fabgrid serve\n", encoding="utf-8")
    with pytest.raises(AssertionError, match="not `name: command`"):
        procfile(bad)
    from fabgrid.cli import app

    sub = typer.main.get_command(app).get_command(None, "worker")  # type: ignore[attr-defined,arg-type]
    assert sub is not None
    with pytest.raises(typer.TyperException, match="No such option"):  # typer's click: its UsageError
        sub.make_context("worker", ["--queue", "analysis"])
