"""Sign-up, log-in, log-out, CSRF rejection and the language switch of the pages."""

from __future__ import annotations

from pages_kit import PASSWORD, Site, csrf_of


def test_signup_sets_httponly_lax_session_and_lands_on_parts(site: Site) -> None:
    b = site.browser()
    page = b.get("/signup")
    assert page.status_code == 200
    assert "fabgrid_csrf" in page.cookies
    token = csrf_of(page.text)
    r = b.post("/signup", data={"csrf_token": token, "name": "Ada", "organisation": "Signup Org A",
                                "email": "ada.page@example.com", "password": PASSWORD})
    assert r.status_code == 303 and r.headers["location"] == "/parts"
    cookies = r.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("fabgrid_session="))
    assert "HttpOnly" in session and "samesite=lax" in session.lower()
    # the CSRF token is rotated at sign-in: a token planted before log-in is not the session's
    assert b.cookies.get("fabgrid_csrf") != token
    parts = b.get("/parts")
    assert parts.status_code == 200 and "Ada" in parts.text and 'id="dropzone"' in parts.text


def test_posts_without_or_with_a_wrong_csrf_token_are_refused(site: Site) -> None:
    b = site.browser()
    csrf_of(b.get("/signup").text)
    form = {"name": "Eve", "organisation": "Forged Org", "email": "eve.page@example.com", "password": PASSWORD}
    assert b.post("/signup", data=form).status_code == 403
    assert b.post("/signup", data=form | {"csrf_token": "x" * 43}).status_code == 403
    assert b.post("/login", data={"email": "eve.page@example.com", "password": PASSWORD}).status_code == 403
    # no account was made by the refused posts
    token = csrf_of(b.get("/login").text)
    r = b.post("/login", data={"csrf_token": token, "email": "eve.page@example.com", "password": PASSWORD})
    assert r.status_code == 401 and "Wrong email or password" in r.text
    # a cross-site form has the session cookie at most, never the token: logout without it is refused too
    email = site.signup_buyer(b)
    assert b.post("/logout").status_code == 403
    assert b.get("/parts").status_code == 200, email


def test_signup_errors_are_shown_in_the_form(site: Site) -> None:
    b = site.browser()
    token = csrf_of(b.get("/signup").text)
    r = b.post("/signup", data={"csrf_token": token, "name": "Bo", "organisation": "Short Pw Org",
                                "email": "bo.page@example.com", "password": "short"})
    assert r.status_code == 422
    assert "password needs" in r.text and 'id="signup-form"' in r.text and "bo.page@example.com" in r.text


def test_login_logout_and_next_stays_on_site(site: Site) -> None:
    b = site.browser()
    email = site.signup_buyer(b)
    anon = site.browser()
    r = anon.get("/orders")
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/orders"
    token = csrf_of(anon.get("/login?next=/orders").text)
    r = anon.post("/login", data={"csrf_token": token, "email": email, "password": PASSWORD, "next": "/orders"})
    assert r.status_code == 303 and r.headers["location"] == "/orders"
    token = csrf_of(anon.get("/login").text)
    r = anon.post("/login", data={"csrf_token": token, "email": email, "password": PASSWORD,
                                  "next": "//evil.example.com/x"})
    assert r.headers["location"] == "/parts"
    token = csrf_of(anon.get("/orders").text)
    r = anon.post("/logout", data={"csrf_token": token})
    assert r.status_code == 303
    assert anon.get("/orders").status_code == 303


def test_language_from_accept_language_and_the_switch(site: Site) -> None:
    zh = site.browser(lang="zh-CN,zh;q=0.9,en;q=0.5")
    home = zh.get("/")
    assert home.status_code == 200 and '<html lang="zh-CN">' in home.text and "登录" in home.text
    en = site.browser(lang="en-US,en;q=0.9")
    assert "Log in" in en.get("/").text
    r = en.get("/lang/zh?next=/login")
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert "lang=zh" in r.headers["set-cookie"]
    assert "登录" in en.get("/login").text
    assert en.get("/lang/en?next=https://evil.example.com/").headers["location"] == "/"
    assert "Log in" in en.get("/login").text


def test_pages_send_a_strict_content_security_policy(site: Site) -> None:
    r = site.browser().get("/")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "cdn" not in r.text.lower()


def test_login_page_locks_an_account_after_failures_and_says_so(site: Site) -> None:
    """Issue 16, item 11, on the pages: five wrong passwords, then the account is locked (429, Retry-After, the
    message in the user's language); a sign-up with the taken e-mail says nothing about it."""
    b = site.browser()
    email = site.signup_buyer(b)
    anon = site.browser("zh-CN")
    codes = []
    for i in range(6):
        token = csrf_of(anon.get("/login").text)
        codes.append(anon.post("/login", data={"csrf_token": token, "email": email, "password": f"wrong {i}"}))
    assert [r.status_code for r in codes] == [401] * 5 + [429]
    assert "登录失败次数过多" in codes[-1].text and int(codes[-1].headers["Retry-After"]) > 0
    other = site.browser()
    token = csrf_of(other.get("/signup").text)
    r = other.post("/signup", data={"csrf_token": token, "name": "Eve", "organisation": f"Eve Org {site.next_n()}",
                                    "email": email, "password": "a different passphrase"})
    assert r.status_code == 200 and "If this e-mail address had no account" in r.text
