"""Problems in the reader's language: an error page whose problem the catalog knows by its code says it in
Chinese on a zh-CN page (what happened and what to do, no API route or command-line flag), the English page keeps
the detailed message; the parts page hands its upload script the Chinese texts by code, and the API's problem
carries the code the script looks up. A form that shows its refusal on itself (sign-up, checkout, the factory
application) and a part whose analysis failed say it the same way."""

from __future__ import annotations

import html
import json
import re

from fastapi.testclient import TestClient
from pages_kit import PASSWORD, Site, csrf_of


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


def _signup_with(b: TestClient, site: Site, password: str) -> str:
    n = site.next_n()
    r = b.post("/signup", data={"csrf_token": csrf_of(b.get("/signup").text), "name": f"Buyer {n}",
                                "organisation": f"Short Org {n}", "email": f"short{n}@example.com",
                                "password": password})
    assert r.status_code == 422, r.text[:500]
    error = re.search(r'id="form-error">([^<]*)<', html.unescape(r.text))
    assert error, r.text[:2000]
    return error.group(1)


def test_a_form_says_its_problem_in_chinese_on_a_chinese_page(site: Site) -> None:
    """The sign-up form (a too-short password) and the checkout form (a bad postal code) show their refusal on the
    form itself: in Chinese on zh-CN, with the service's detailed message on en."""
    zh = _signup_with(site.browser("zh-CN"), site, "short")
    assert zh.startswith("密码不够安全") and "至少 10 个字符" in zh and "password" not in zh
    en = _signup_with(site.browser("en"), site, "short")
    assert "the password needs at least 10 characters" in en

    for lang, said, unsaid in (("zh-CN", "邮政编码应为 6 位数字", "is not a postal code"),
                               ("en", "'12' is not a postal code — six digits", "邮政编码")):
        b = site.browser(lang)
        site.signup_buyer(b)
        fields, _ = site.checkout_form(b)
        r = b.post("/checkout/review", data=fields | {"shipping_postal_code": "12"})
        assert r.status_code == 422, r.text[:500]
        error = re.search(r'id="checkout-error">([^<]*)<', html.unescape(r.text))
        assert error and said in error.group(1) and unsaid not in error.group(1), (lang, r.text[:2000])
        assert 'value="Li Lei"' in r.text  # what was typed stays in the form


def test_the_factory_application_and_a_failed_part_say_their_problem_in_chinese(site: Site) -> None:
    """The factory application with a mistyped credit code (shown on the form), and a part whose analysis failed
    (shown on its page): Chinese on zh-CN, the detail (the wrong position, the file's name) on en."""
    application = {"legal_name": "长沙麓谷测试增材有限公司", "address": "岳麓区麓谷大道 1 号", "city": "Changsha",
                   "province": "Hunan", "contact_name": "Li Lei", "credit_code": "91430100MA4L0XXXX7"}
    for lang in ("zh-CN", "en"):
        b = site.browser(lang)
        n = site.next_n()
        page = b.get("/join").text
        r = b.post("/join/signup", data={"csrf_token": csrf_of(page), "name": "Li Lei", "organisation": f"ZH AM {n}",
                                         "email": f"owner{n}@zh-am{n}.example.com", "password": PASSWORD})
        assert r.status_code == 303, r.text[:500]
        bad = b.post("/join", data={"csrf_token": csrf_of(b.get("/join").text), **application})
        assert bad.status_code == 422, bad.text[:500]
        error = re.search(r'id="form-error">([^<]*)<', html.unescape(bad.text))
        assert error, bad.text[:2000]
        if lang == "zh-CN":
            assert "统一社会信用代码无效" in error.group(1) and "position" not in error.group(1)
        else:
            assert "position 18" in error.group(1)

    for lang, said in (("zh-CN", "文件不是可识别格式的零件文件"), ("en", "garbage.stl: not an STL file")):
        b = site.browser(lang)
        site.signup_buyer(b)
        r = b.post("/api/v1/parts", files={"file": ("garbage.stl", b"\x00\x01 not a mesh at all" * 3)},
                   headers={"X-CSRF-Token": csrf_of(b.get("/parts").text)})
        assert r.status_code == 422, r.text[:500]
        page = html.unescape(b.get(f"/parts/{r.json()['part']['id']}").text)
        problem = re.search(r'id="part-problem">([^<]*)<', page)
        assert problem and said in problem.group(1), (lang, page[:2000])
        assert lang == "en" or "not an STL" not in page
