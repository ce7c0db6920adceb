"""`fabgrid users add` (factory, operator, admin and buyer accounts; the API signup makes buyers only) and
`fabgrid demo seed` (a demo buyer, one factory account per site of a few sites, an operator).

Services are imported inside the commands so `fabgrid --help` stays fast.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

import typer

from fabgrid.cli._common import emit_json, table

users_app = typer.Typer(help="User accounts (administrators).", no_args_is_help=True)
demo_app = typer.Typer(help="Demo data for trying the platform.", no_args_is_help=True)

DatabaseUrl = Annotated[str | None, typer.Option("--database-url", help="default: FABGRID_DATABASE_URL or SQLite")]
JsonOut = Annotated[bool, typer.Option("--json", help="print one JSON document")]


def _password() -> str:
    return secrets.token_urlsafe(12)


def _ensure(url: str, email: str, password: str, name: str, organisation: str, role: str,
            site_id: str | None) -> dict[str, Any]:
    from fabgrid.services import accounts

    existing = accounts.find_user(url, email)
    if existing is not None:
        accounts.set_password(url, email, password)
        p, created = existing, False
    else:
        p = accounts.signup(url, email=email, password=password, name=name, organisation=organisation, role=role,
                            site_id=site_id)
        created = True
    return {"email": p.email, "password": password, "role": p.role, "organisation": p.organisation,
            "site_id": p.site_id, "created": created}


@users_app.command("add")
def add(
    email: Annotated[str, typer.Option(help="login e-mail")],
    role: Annotated[str, typer.Option(help="buyer, factory, operator or admin")],
    organisation: Annotated[str | None, typer.Option(help="default: from the role and site")] = None,
    site: Annotated[str | None, typer.Option("--site", help="the factory's site id (role factory)")] = None,
    name: Annotated[str | None, typer.Option(help="display name; default: the e-mail's local part")] = None,
    password: Annotated[str | None, typer.Option(help="default: a generated one, printed once")] = None,
    database_url: DatabaseUrl = None,
    json_: JsonOut = False,
) -> None:
    """Create an account (or reset the password of an existing one) and print its credentials."""
    from fabgrid.config import load_settings
    from fabgrid.errors import InputError
    from fabgrid.services.platform import prepare_database

    if role == "factory" and not site:
        raise InputError("a factory account needs --site", hint="`fabgrid network` lists the sites",
                         code="users.site")
    url = load_settings(database_url).database_url
    prepare_database(url)  # migrated; a fresh database gets the shipped network (factories name a site)
    org = organisation or (f"Factory {site}" if role == "factory" else f"{role.title()} {email.split('@')[-1]}")
    row = _ensure(url, email, password or _password(), name or email.split("@")[0], org, role, site)
    if json_:
        emit_json(row)
    else:
        table("account", list(row), [list(row.values())])


@demo_app.command("seed")
def seed(
    sites: Annotated[int, typer.Option(min=1, max=20, help="factory accounts for this many sites")] = 3,
    password: Annotated[str | None, typer.Option(help="one password for every demo account; default: generated")]
    = None,
    database_url: DatabaseUrl = None,
    json_: JsonOut = False,
) -> None:
    """Create a demo buyer, factory accounts for the first Hunan sites and an operator; print credentials."""
    from fabgrid.config import load_settings
    from fabgrid.services.network import network_of
    from fabgrid.services.platform import prepare_database

    settings = load_settings(database_url)
    url = settings.database_url
    prepare_database(url)
    all_sites = sorted(network_of(settings).sites.values(), key=lambda s: s.id)
    chosen = ([s for s in all_sites if s.province == "Hunan"] + [s for s in all_sites if s.province != "Hunan"])
    rows = [_ensure(url, "buyer@demo.fabgrid.example", password or _password(), "Demo Buyer", "Demo Buyer Co",
                    "buyer", None)]
    for s in chosen[:sites]:
        rows.append(_ensure(url, f"factory-{s.id}@demo.fabgrid.example".lower(), password or _password(),
                            f"{s.name} planner", f"Factory {s.name}", "factory", s.id))
    rows.append(_ensure(url, "operator@demo.fabgrid.example", password or _password(), "Park Operator",
                        "Park Operator", "operator", None))
    if json_:
        emit_json({"database_url": url, "accounts": rows})
    else:
        table("demo accounts", ["email", "password", "role", "organisation", "site", "created"],
              [[r["email"], r["password"], r["role"], r["organisation"], r["site_id"], r["created"]] for r in rows])


def register(app: typer.Typer) -> None:
    """Add `users` and `demo` to the CLI."""
    app.add_typer(users_app, name="users")
    app.add_typer(demo_app, name="demo")
