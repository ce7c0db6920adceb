"""The FastAPI application: API routers, web pages, static files, problem+json errors.

`create_app()` is what `fabgrid serve` runs; the database is migrated and the shipped network
loaded at start-up.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from fabgrid import __version__
from fabgrid.api import errors
from fabgrid.api.routes import auth, catalog, health
from fabgrid.config import Settings, load_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for `settings` (default: from the environment)."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from fabgrid.services.platform import prepare_database

        app.state.database = prepare_database(settings.database_url)
        yield

    app = FastAPI(
        title="fabgrid",
        version=__version__,
        description="Manufacturing-as-a-Service: DFM, instant quotes, allocation across a factory network.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    errors.install(app)
    app.include_router(health.router)
    app.include_router(catalog.router)
    app.include_router(auth.router)

    from fabgrid.web import pages

    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=str(resources.files("fabgrid.web") / "static")), name="static")
    return app
