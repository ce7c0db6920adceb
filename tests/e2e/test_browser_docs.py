"""Swagger UI (/docs) and ReDoc (/redoc) render in Chromium from the package alone: every request the pages make
goes to the server itself (any other is aborted and fails the test), under their Content-Security-Policy;
screenshots in test-artifacts/e2e/docs-*.png."""

from __future__ import annotations

from typing import Any

from e2e_kit import ARTIFACTS, Server


def _local_only(page: Any, server: Server) -> list[str]:
    outside: list[str] = []

    def route(r: Any) -> None:
        if r.request.url.startswith(server.url) or r.request.url.startswith(("data:", "blob:")):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    return outside


def test_swagger_ui_and_redoc_are_served_from_the_package(server: Server, browser: Any) -> None:
    ctx = browser.new_context()
    page = ctx.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    outside = _local_only(page, server)
    page.goto(server.url + "/docs")
    page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
    assert "fabgrid" in page.inner_text(".swagger-ui .info .title")
    page.wait_for_selector('[data-path="/api/v1/orders"]', timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "docs-swagger.png"))
    page.goto(server.url + "/redoc")
    page.wait_for_selector("h1", timeout=60_000)
    assert "fabgrid" in page.inner_text("h1")
    page.screenshot(path=str(ARTIFACTS / "docs-redoc.png"))
    assert outside == []
    # ReDoc's sidebar asks for its "powered by" logo on cdn.redoc.ly: the policy blocks it (img-src 'self'); no
    # script, style, font or data of either page is blocked, so both work from the package alone
    blocked = [e for e in errors if "Content Security Policy" in e]
    assert all("Loading the image 'https://cdn.redoc.ly/" in e for e in blocked), blocked
    ctx.close()
