"""Server-rendered pages (Jinja2): the home page with the network map, sign-up, log-in, log-out and the
language switch; it includes the buyer, factory and operator page routers.

Depends on services (accounts, access, catalog_read) and web helpers; never on api, the store or the engines.
`install(app)` mounts the pages and their static files on the app (the composition root, fabgrid.app, calls it).
"""

from __future__ import annotations

from collections import Counter
from importlib import resources

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from fabgrid.errors import InputError
from fabgrid.services import access, accounts, catalog_read
from fabgrid.services.access import SESSION_COOKIE
from fabgrid.web import buyer, cart, factory, i18n, mapsvg, operator, partlist, plan_pages, team
from fabgrid.web.session import (
    LANG_COOKIE,
    PageRoute,
    checked_form,
    field,
    form_problem,
    local_path,
    principal,
    render,
    set_csrf_cookie,
    settings_of,
)

router = APIRouter(include_in_schema=False, route_class=PageRoute)
ONE_YEAR_S = 365 * 24 * 3600


def home_for(role: str) -> str:
    """Where a user lands after logging in."""
    return {"factory": "/factory", "operator": "/operator", "admin": "/operator"}.get(role, "/parts")


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> HTMLResponse:
    """The network on a map and the catalog."""
    view = catalog_read.network_view(settings_of(request))
    models, sites, processes, materials = view.machine_models, view.sites, view.processes, view.materials
    proj = mapsvg.projection()
    points = []
    for s in sites:
        x, y = proj.xy(s.lon, s.lat)
        procs = sorted({models[m.model].process.value for m in s.machines})
        points.append({"site": s, "x": x, "y": y, "processes": procs, "machines": len(s.machines),
                       "hunan": s.province == "Hunan"})
    context = {
        "sites": sites, "points": points, "outline": mapsvg.outline_paths(),
        "outline_source": mapsvg.outline_source(), "map_w": mapsvg.WIDTH, "map_h": proj.height,
        "processes": processes, "materials": materials, "machine_models": list(models.values()),
        "machine_counts": Counter(m.model for s in sites for m in s.machines),
        "provinces": sorted({s.province for s in sites}), "n_machines": sum(len(s.machines) for s in sites),
    }
    return render(request, "home.html", context, who=principal(request))


@router.get("/lang/{code}")
def switch_language(request: Request, code: str, next: str = "/") -> Response:
    """Set the `lang` cookie and go back to the page."""
    resp = RedirectResponse(local_path(next), status_code=303)
    if code in i18n.LANGUAGES:
        resp.set_cookie(LANG_COOKIE, code, max_age=ONE_YEAR_S, samesite="lax", path="/")
    return resp


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "") -> HTMLResponse:
    """The log-in form."""
    return render(request, "login.html", {"next": local_path(next, ""), "email": ""}, who=principal(request))


def _signed_in(request: Request, token: str, target: str) -> Response:
    resp = RedirectResponse(target, status_code=303)
    resp.set_cookie(SESSION_COOKIE, token, max_age=int(accounts.SESSION_TTL.total_seconds()), httponly=True,
                    samesite="lax", path="/", secure=request.url.scheme == "https")
    # a fresh CSRF token for the new session (a token planted before log-in is not carried over)
    set_csrf_cookie(request, resp, access.new_csrf_token())
    return resp


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    """Check the password, set the session cookie and go to the user's home (or `next`)."""
    form = await checked_form(request)
    email, nxt = field(form, "email"), local_path(field(form, "next"), "")
    url = settings_of(request).database_url
    address = request.client.host if request.client else None
    try:
        issued = accounts.login(url, email, str(form.get("password") or ""), address)
    except InputError as exc:
        locked = exc.code == "auth.locked"
        resp = render(request, "login.html", {"next": nxt, "email": email, "error": i18n.translate(
            _lang(request), "login.locked" if locked else "login.failed")}, status_code=429 if locked else 401)
        if locked:
            resp.headers["Retry-After"] = str(getattr(exc, "retry_after_s", 900))
        return resp
    who = accounts.authenticate(url, issued.token)
    target = nxt or home_for(who.role if who else "buyer")
    return _signed_in(request, issued.token, target)


def _lang(request: Request) -> str:
    from fabgrid.web.session import language

    return language(request)


@router.get("/signup", response_class=HTMLResponse)
def signup_form(request: Request) -> HTMLResponse:
    """The buyer sign-up form."""
    return render(request, "signup.html", {"form": {}}, who=principal(request))


@router.post("/signup", response_class=HTMLResponse)
async def signup(request: Request) -> Response:
    """Create a buyer account and organisation, then sign in."""
    form = await checked_form(request)
    values = {k: field(form, k) for k in ("name", "organisation", "email")}
    password = str(form.get("password") or "")
    url = settings_of(request).database_url
    try:
        accounts.public_signup(url, email=values["email"], password=password, name=values["name"],
                               organisation=values["organisation"], role="buyer")
    except InputError as exc:
        message, hint = form_problem(request, exc)
        return render(request, "signup.html", {"form": values, "error": message, "hint": hint},
                      status_code=exc.status if 400 <= exc.status < 500 else 422)
    try:
        issued = accounts.login(url, values["email"], password, request.client.host if request.client else None)
    except InputError:  # the e-mail had an account already (with another password): say no more than that
        return render(request, "login.html", {"next": "/parts", "email": values["email"], "error": i18n.translate(
            _lang(request), "signup.log_in")}, status_code=200)
    return _signed_in(request, issued.token, "/parts")


@router.post("/logout")
async def logout(request: Request) -> Response:
    """Revoke the session token and drop the cookie."""
    await checked_form(request)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        accounts.revoke(settings_of(request).database_url, token)
    resp = RedirectResponse("/", status_code=303)
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


for _module in (buyer, cart, factory, operator, team, partlist, plan_pages):
    router.include_router(_module.router)


def install(app: FastAPI) -> None:
    """Mount the pages (after the API's routers) and the static files (/static) on `app`."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=str(resources.files("fabgrid.web") / "static")), name="static")
