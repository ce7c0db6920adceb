"""What every page needs: the signed-in principal from the `fabgrid_session` cookie, the CSRF token of the
browser (double-submit: the `fabgrid_csrf` cookie equals the form's hidden `csrf_token` or the
X-CSRF-Token header), the language, and rendering a template with the security headers.

The cookie, CSRF and role rules are services.access's (the API uses the same module). Depends on services
(accounts, access), web.i18n, web.findings and FastAPI/Jinja2; never on api, store or engines.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from importlib import resources
from typing import Any
from urllib.parse import quote

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData

from fabgrid.config import Settings
from fabgrid.domain.catalog import Catalog, local_name
from fabgrid.errors import InputError
from fabgrid.services import access, catalog_read, network, timeline
from fabgrid.services.access import CSRF_COOKIE, CSRF_FIELD, CSRF_HEADER, SESSION_COOKIE
from fabgrid.services.accounts import Principal, authenticate
from fabgrid.web import findings, i18n

LANG_COOKIE = "lang"
#: Pages allow scripts and styles from fabgrid itself only (the viewer is served, never from a CDN).
CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
       "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")

templates = Jinja2Templates(directory=str(resources.files("fabgrid.web") / "templates"))
templates.env.filters["local_time"] = i18n.local_time


def settings_of(request: Request) -> Settings:
    """The app's settings."""
    settings: Settings = request.app.state.settings
    return settings


def language(request: Request) -> str:
    """The page language: `lang` cookie, else Accept-Language, else English."""
    return i18n.pick_language(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


def principal(request: Request) -> Principal | None:
    """The signed-in user of the session cookie, or None."""
    token = request.cookies.get(SESSION_COOKIE)
    return authenticate(settings_of(request).database_url, token) if token else None


class LoginRequired(Exception):
    """Raised by `require`: the page answers with a redirect to the login form."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def require(request: Request, *roles: str) -> Principal:
    """The signed-in principal (redirect to /login otherwise), 403 when its role is not among `roles`."""
    who = principal(request)
    if who is None:
        raise LoginRequired(request.url.path)
    if not access.allows(who, roles):
        raise HTTPException(403, f"this page is for {' / '.join(roles)} accounts")
    return who


def login_redirect(exc: LoginRequired) -> RedirectResponse:
    """303 to the login form, coming back to the page afterwards."""
    return RedirectResponse(f"/login?next={quote(exc.next_path)}", status_code=303)


def csrf_token(request: Request) -> str:
    """The browser's CSRF token (a new one when it has none; `render` sets the cookie)."""
    token = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf", None)
    if not token:
        token = access.new_csrf_token()
        request.state.new_csrf = token
    return str(token)


def set_csrf_cookie(request: Request, response: Response, token: str | None = None) -> None:
    """Store `token` (or the request's new one) in the CSRF cookie; HttpOnly: pages carry it in the HTML."""
    token = token or getattr(request.state, "new_csrf", None)
    if token:
        response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="lax", path="/",
                            secure=request.url.scheme == "https")


async def checked_form(request: Request) -> FormData:
    """The posted form, after checking its CSRF token against the cookie (403 otherwise)."""
    form = await request.form()
    sent = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    if not access.csrf_matches(request.cookies.get(CSRF_COOKIE), sent):
        raise HTTPException(403, "the form's CSRF token is missing or does not match: reload the page and retry")
    return form


def field(form: FormData, name: str, default: str = "") -> str:
    """A text field of a form (files and missing fields give `default`)."""
    value = form.get(name)
    return value.strip() if isinstance(value, str) else default


def local_path(path: str | None, default: str = "/") -> str:
    """`path` when it is a path on this site (no scheme, host or '//'), else `default` (no open redirect)."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path or "\n" in path:
        return default
    return path


def render(request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200,
           who: Principal | None = None) -> HTMLResponse:
    """Render a page template with the language, the translator `t`, the user and the CSRF token, and the
    helpers that name records, places, timeline notes, DFM findings and a quote's limits in that language."""
    lang = language(request)
    token = csrf_token(request)
    names: dict[str, str] = {}

    def place(name: object) -> str:
        """A city or province of the network in the page's language (its Chinese name on zh-CN pages)."""
        text = "" if name is None else str(name)
        if lang != "zh" or not text:
            return text
        if not names:
            names.update(catalog_read.place_names_zh(settings_of(request)) or {"": ""})
        return names.get(text, text)

    sites: dict[str, str] = {}

    def site_name(site_id: str) -> str:
        if not sites:
            sites.update(network.site_names(settings_of(request)) or {"": ""})
        return local_name(sites.get(site_id, site_id), lang)

    def event_note(event: Any) -> str:
        """A timeline event's note in the page's language (a free-text note as written)."""
        key = getattr(event, "note_key", None)
        shown = timeline.text(key, getattr(event, "note_args", None), lang, site_name) if key else ""
        return shown or str(getattr(event, "note", ""))

    catalogs: list[Catalog] = []

    def catalog_names() -> Catalog | None:
        """The network's catalog, which names processes and machine models on Chinese pages (None in English)."""
        if lang != "zh":
            return None
        if not catalogs:
            catalogs.append(network.network_of(settings_of(request)).catalog)
        return catalogs[0]

    def process_name(process: object) -> str:
        """A process id (fdm, sla, ...) by its Chinese name on zh-CN pages; the id on English pages."""
        key = str(getattr(process, "value", process))
        cat = catalog_names()
        found = cat.processes.get(key) if cat is not None else None  # type: ignore[call-overload]
        return local_name(found, lang) if found is not None else key

    def material_name(material: object) -> str:
        """A material id (fdm_pla, ...) by its Chinese name on zh-CN pages; the id on English pages."""
        key = str(material)
        cat = catalog_names()
        found = cat.materials.get(key) if cat is not None else None
        return local_name(found, lang) if found is not None else key

    ctx: dict[str, Any] = {
        "lang": lang, "languages": i18n.LANGUAGES, "user": who, "place": place,
        "process_name": process_name, "material_name": material_name,
        "named": lambda record: local_name(record, lang), "event_note": event_note,
        "finding_text": lambda finding: findings.finding_text(lang, finding, catalog_names()),
        "limit_text": lambda limit, found=None: findings.limit_text(lang, limit, found, catalog_names()),
        "problem_texts": lambda: problem_texts(lang),
        "t": lambda key, **kw: i18n.translate(lang, key, **kw),
        "csrf_token": token, "csrf_field": CSRF_FIELD, "path": request.url.path,
        "path_qs": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
    }
    ctx.update(context or {})
    resp = templates.TemplateResponse(request, name, ctx, status_code=status_code)
    resp.headers["Content-Security-Policy"] = CSP
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "same-origin"
    resp.headers["Cache-Control"] = "no-store"
    set_csrf_cookie(request, resp)
    return resp


class PageRoute(APIRoute):
    """Route class of the page routers: a missing login redirects to /login; a refusal or bad input is an
    HTML error page in the user's language (the API keeps its problem+json answers)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired as exc:
                return login_redirect(exc)
            except HTTPException as exc:
                return error_page(request, exc.status_code, str(exc.detail))
            except InputError as exc:
                return error_page(request, exc.status, exc.message, exc.hint, code=exc.code)

        return page_handler


def error_page(request: Request, status: int, message: str, hint: str | None = None,
               code: str | None = None) -> HTMLResponse:
    """An HTML error page with `status`. A problem the catalog knows by its `code` (`error.<code>`) is said in
    Chinese on zh-CN pages (what happened and what to do, in place of the English message and its hint); English
    pages keep the detailed message."""
    message, hint = localized_problem(language(request), message, hint, code)
    return render(request, "error.html", {"status": status, "message": message, "hint": hint, "code": code},
                  status_code=status, who=principal(request))


def localized_problem(lang: str, message: str, hint: str | None, code: str | None) -> tuple[str, str | None]:
    """(message, hint) of a problem in the page's language: the catalog's `error.<code>` on a Chinese page (from
    zh.yaml or errors.zh.yaml), the service's message and hint otherwise."""
    text = i18n.catalog(lang).get(f"error.{code}") if code and lang == "zh" else None
    return (text, None) if text else (message, hint)


def form_problem(request_or_lang: Request | str, exc: InputError) -> tuple[str, str | None]:
    """(message, hint) of a refused form shown on the form itself (not on the error page), in the reader's
    language: on a Chinese page the catalog's text of `exc.code`, on an English page the service's detailed
    message and hint as they are."""
    lang = request_or_lang if isinstance(request_or_lang, str) else language(request_or_lang)
    return localized_problem(lang, exc.message, exc.hint, exc.code)


#: The areas of the codes a page's script can get back from the API (the parts page's upload: the upload, the
#: file, its analysis and limits, the rate limit, a busy database); its page hands it their texts only.
SCRIPT_PROBLEM_AREAS = ("upload", "mesh", "3mf", "step", "limit", "analysis", "part", "design", "db",
                        "rate_limited")


def problem_texts(lang: str) -> dict[str, str]:
    """code -> the catalog's text of the problems a page's script can meet (SCRIPT_PROBLEM_AREAS), for the
    script (Chinese pages; {} in English, where the API's own message is the more precise)."""
    if lang != "zh":
        return {}
    codes = ((k.removeprefix("error."), v) for k, v in i18n.catalog(lang).items() if k.startswith("error."))
    return {code: text for code, text in codes if code.split(".")[0] in SCRIPT_PROBLEM_AREAS}
