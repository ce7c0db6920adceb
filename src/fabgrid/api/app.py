"""The API of the platform: the routers (/health, /api/v1/...), problem+json errors, 429 answers with
Retry-After, and the Celery dispatcher of background jobs when a broker is set.

`install(app, settings)` puts them on the app that the composition root (`fabgrid.app.create_app`) builds;
the pages are mounted beside them there. Never imports web.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from fabgrid.api import errors, openapi
from fabgrid.api.routes import (
    auth,
    builds,
    catalog,
    factories,
    factory,
    health,
    jobs,
    operator,
    orders,
    parts,
    quotes,
    rfqs,
    team,
    webhooks,
)
from fabgrid.config import Settings
from fabgrid.services.ratelimit import RateLimitError


def install(app: FastAPI, settings: Settings) -> None:
    """Register the API's error handlers and routers on `app`; start the job dispatcher when a broker is set."""
    errors.install(app)
    openapi.install(app)

    @app.exception_handler(RateLimitError)
    async def _rate_limited(request: Request, exc: RateLimitError) -> JSONResponse:
        resp = errors.problem(429, exc.code, exc.message, type_=f"urn:fabgrid:problem:{exc.code}",
                              instance=request.url.path, hint=exc.hint, retry_after_s=exc.retry_after_s)
        resp.headers["Retry-After"] = str(exc.retry_after_s)
        return resp

    for module in (health, catalog, auth, parts, jobs, quotes, orders, factory, factories, operator, webhooks,
                   builds, team):
        app.include_router(module.router)
    app.include_router(factories.operator_router)
    app.include_router(jobs.operator_router)
    app.include_router(factory.orders_router)
    app.include_router(operator.buyer_router)
    for rfq_router in rfqs.ROUTERS:
        app.include_router(rfq_router)
    if settings.broker_url:
        from fabgrid.workers import install_dispatcher

        install_dispatcher(settings)
