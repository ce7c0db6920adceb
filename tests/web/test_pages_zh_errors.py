"""Problems in the reader's language: an error page whose problem the catalog knows by its code says it in
Chinese on a zh-CN page (what happened and what to do, no API route or command-line flag), the English page keeps
the detailed message; the parts page hands its upload script the Chinese texts by code, and the API's problem
carries the code the script looks up."""

from __future__ import annotations

import html
import json
import re

from pages_kit import Site, csrf_of


def _place_twice(site: Site, lang: str) -> str:
    """Order a quote through the checkout, then post the same checkout again: the second answer's text."""
    b = site.browser(lang)
    site.signup_buyer(b)
    fields, _ = site.checkout_form(b)
    first = b.post("/checkout/place", data=fields)
    assert first.status_code == 303, first.text
    again = b.post("/checkout/place", data=fields | {"csrf_token": csrf_of(b.get("/orders").text)})
    assert again.status_code == 409, again.text
    return html.unescape(again.text)


def test_a_known_problem_is_said_in_chinese_on_a_chinese_page(site: Site) -> None:
    zh = _place_twice(site, "zh-CN")
    message = re.search(r'id="error-message">([^<]*)<', zh)
    assert message and "该报价已下过单" in message.group(1)
    assert "was ordered already" not in zh and "/api/v1/" not in zh  # no English, no API route for a web user
    en = _place_twice(site, "en")
    assert "was ordered already" in en  # the English page keeps the detailed message


def test_the_upload_script_gets_the_problems_in_chinese_by_code(site: Site) -> None:
    zh = site.browser("zh-CN")
    site.signup_buyer(zh)
    page = zh.get("/parts").text
    texts = json.loads(html.unescape(re.search(r'data-errors="([^"]*)"', page).group(1)))  # type: ignore[union-attr]
    assert texts["upload.file_type"].startswith("不支持此文件类型") and "limit.file_size" in texts
    en = site.browser("en")
    site.signup_buyer(en)
    assert re.search(r'data-errors="([^"]*)"', en.get("/parts").text).group(1) == "{}"  # type: ignore[union-attr]
    token = csrf_of(page)
    r = zh.post("/api/v1/parts", files={"file": ("notes.txt", b"hello")}, headers={"X-CSRF-Token": token})
    assert r.status_code == 415 and r.json()["type"].rsplit(":", 1)[1] == "upload.file_type"
