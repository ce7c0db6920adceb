"""The `fabgrid` command line: a Typer app assembled from the modules of this package.

Each module here that does not start with ``_`` defines ``register(app)`` and adds its commands;
adding a command means writing one module. Heavy engines are imported inside the command
functions so that `fabgrid --help` stays fast. Bad input becomes ``error:`` / ``hint:`` and exit 2.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Sequence
from contextlib import nullcontext

import typer

from fabgrid.cli._common import fail, json_stdout

try:  # typer >= 0.24 ships its own copy of click
    from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
except ImportError:  # pragma: no cover - older typer on upstream click
    from click.exceptions import ClickException, NoArgsIsHelpError, UsageError  # type: ignore[assignment]

app = typer.Typer(
    name="fabgrid",
    help="fabgrid: Manufacturing-as-a-Service platform "
    "(DFM, quotes, allocation, planning, telemetry, quality).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register_all() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        module.register(app)


_register_all()


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the `fabgrid` script: runs the app and turns errors into exit codes."""
    from fabgrid.errors import InputError

    command = typer.main.get_command(app)
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        with json_stdout() if "--json" in args else nullcontext():
            rv = command.main(args=args, prog_name="fabgrid", standalone_mode=False)
    except InputError as exc:
        fail(exc.message, exc.hint)
    except NoArgsIsHelpError:
        sys.exit(2)  # the help was printed already
    except UsageError as exc:
        cmd = exc.ctx.command_path if exc.ctx else "fabgrid"
        fail(exc.format_message(), f"run `{cmd} --help` for the usage")
    except ClickException as exc:
        fail(exc.format_message(), None)
    except typer.Abort:
        fail("aborted", None)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        fail("interrupted", None)
    if isinstance(rv, int) and rv:
        sys.exit(rv)
