"""The composition root of the web platform: one FastAPI app with the API (api/) and the pages (web/) mounted
side by side, and the platform's start-up (database migrated and seeded, the embedded machine data).

`create_app(settings)` is what `fabgrid serve`, the tests and the benchmarks run. The only module that imports
both api and web; api and web never import each other.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from fabgrid import __version__
from fabgrid.api import app as api
from fabgrid.config import Settings, load_settings
from fabgrid.web import pages


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for `settings` (default: from the environment): API routers first, then the pages and
    their static files."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from fabgrid.services.platform import prepare_database

        app.state.database = prepare_database(settings.database_url)
        from fabgrid.services.parts import resume_interrupted

        resume_interrupted(settings)  # inline analyses a stopped server left `running`
        fleet = None
        if settings.embedded_fleet and not settings.mqtt_url:
            from fabgrid.services.live_fleet import start_embedded_fleet

            fleet = start_embedded_fleet(settings.database_url, settings.demo_source)
        yield
        if fleet is not None:
            fleet[1].set()
            fleet[0].join(timeout=5)

    app = FastAPI(
        title="fabgrid",
        version=__version__,
        description="Manufacturing-as-a-Service: DFM, instant quotes, allocation across a factory network.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    api.install(app, settings)
    pages.install(app)
    return app
