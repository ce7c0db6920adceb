"""Every problem a user can meet has its text in Chinese (issue 17): each code an InputError (or a subclass:
NotFoundError, LimitError, HostError, ...) is raised with anywhere in src/fabgrid has an `error.<code>` text in the zh
catalog (zh.yaml or errors.zh.yaml), written for a web user: Chinese, no English sentence, no command-line flag,
environment variable or API route, no placeholder (the texts carry no values). The codes are read from the source:
literal `code="..."` of a call to a problem class, the `code` argument of a helper that passes it on, a module
constant, the defaults of the classes; a code built at run time is listed below with the values it takes.

DFM findings (`DfmFinding(code=...)`, e.g. units.maybe_inch) and a quote's rejections and limits are not problems
(the part and quote pages show them), so they are not read here."""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
import yaml

from fabgrid.errors import InputError
from fabgrid.web import i18n
from fabgrid.web.session import form_problem, problem_texts

SRC = Path(__file__).resolve().parents[2] / "src" / "fabgrid"

#: Codes built at run time, by (file, the code expression as written): the codes it makes, from where its values
#: come. A new expression fails the test until it is listed here.
DYNAMIC: dict[tuple[str, str], tuple[str, ...]] = {
    # checkout._need(raw, key, label): the required fields of checkout.parse and _tax; _phone(value, key): the
    # three telephones
    ("services/checkout.py", "f'checkout.{key}'"): (
        "checkout.shipping_recipient", "checkout.shipping_phone", "checkout.shipping_city", "checkout.shipping_street",
        "checkout.tax_company_name", "checkout.tax_credit_code", "checkout.contact_phone", "checkout.tax_phone"),
    # checkout._tax: the fields a VAT special invoice needs
    ("services/checkout.py", "f'checkout.tax_{k}'"): (
        "checkout.tax_address", "checkout.tax_phone", "checkout.tax_bank_name", "checkout.tax_bank_account"),
    # web/operator._when(form, name, required): the disruption form's start and end
    ("web/operator.py", "f'disruption.{name}'"): ("disruption.start", "disruption.end"),
    # web/rfqs._date(text, name): the RFQ's need_by and the bid's valid_until
    ("web/rfqs.py", "f'rfq.{name}'"): ("rfq.need_by", "rfq.valid_until"),
    # web/value_report_pages._number(form, name): the keys of NUMBERS
    ("web/value_report_pages.py", "f'value_report.{name}'"): (
        "value_report.days", "value_report.seeds", "value_report.seed", "value_report.parts", "value_report.scale"),
    # config._bad(name, ...) without a code: the yes/no flags, the numbers of _NUMBERS, the queue and SMTP URL
    ("config.py", "code or f\"config.{name.removeprefix('FABGRID_').lower()}\""): (
        "config.embedded_fleet", "config.webhook_allow_private", "config.job_lease_s", "config.db_pool_size",
        "config.db_pool_timeout_s", "config.max_in_flight", "config.factory_response_h", "config.claim_window_days",
        "config.worker_queue", "config.smtp_url"),
}
#: Code expressions that pass on a code raised elsewhere (a stored problem raised again): nothing new to say.
PASSED_ON = {("services/parts.py", "str(p.get('title'))")}

_CJK = re.compile(r"[\u4e00-\u9fff]")
_ENGLISH_RUN = re.compile(r"[A-Za-z][A-Za-z0-9_'-]*(?:[ ,./:;()'\"-]+[A-Za-z][A-Za-z0-9_'-]*){3,}")
_FORBIDDEN = re.compile(r"--[a-z]|FABGRID_|/api/|`")


def _trees() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(SRC.rglob("*.py")):
        yield path.relative_to(SRC).as_posix(), ast.parse(path.read_text(encoding="utf-8"))


def _name(func: ast.expr) -> str:
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _problem_classes(trees: list[tuple[str, ast.Module]]) -> dict[str, tuple[str, ast.ClassDef]]:
    """InputError and every class of src/fabgrid derived from it, by name: (its file, its definition)."""
    classes = {n.name: (where, n) for where, t in trees for n in ast.walk(t) if isinstance(n, ast.ClassDef)}
    found = {"InputError"}
    while True:
        more = {c for c, (_, node) in classes.items()
                if c not in found and any(_name(b) in found for b in node.bases)}
        if not more:
            return {c: classes[c] for c in found}
        found |= more


def _code_params(fn: ast.FunctionDef) -> tuple[int | None, str | None]:
    """(position, str default) of the parameter `code` of `fn` (None, None without one)."""
    args = fn.args.posonlyargs + fn.args.args
    defaults = dict(zip([a.arg for a in args][-len(fn.args.defaults):], fn.args.defaults, strict=True)) \
        if fn.args.defaults else {}
    defaults |= {a.arg: d for a, d in zip(fn.args.kwonlyargs, fn.args.kw_defaults, strict=True) if d is not None}
    names = [a.arg for a in args]
    if "code" not in names and "code" not in [a.arg for a in fn.args.kwonlyargs]:
        return None, None
    default = defaults.get("code")
    value = default.value if isinstance(default, ast.Constant) and isinstance(default.value, str) else None
    return (names.index("code") if "code" in names else None), value


@functools.cache
def raised_codes() -> dict[str, set[str]]:
    """code -> the files that raise it; fails on a code expression that is neither literal nor listed."""
    trees = list(_trees())
    problems = _problem_classes(trees)
    out: dict[str, set[str]] = {}
    unknown: list[str] = []
    for where, cls in problems.values():  # a problem raised without a code has its class's default code
        for init in (n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"):
            if default := _code_params(init)[1]:
                out.setdefault(default, set()).add(where)
    for where, tree in trees:
        constants = {t.id: n.value.value for n in tree.body if isinstance(n, ast.Assign)
                     and isinstance(n.value, ast.Constant) and isinstance(n.value.value, str)
                     for t in n.targets if isinstance(t, ast.Name)}
        # helpers that pass their `code` argument on to a problem (config._bad, value_reports._bounded, ...)
        helpers: dict[str, int | None] = {}
        for fn in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
            pos, default = _code_params(fn)
            passes_on = any(isinstance(c, ast.Call) and _name(c.func) in (*problems, "__init__") and any(
                k.arg == "code" and any(isinstance(x, ast.Name) and x.id == "code" for x in ast.walk(k.value))
                for k in c.keywords) for c in ast.walk(fn))
            if (pos is not None or default is not None) and passes_on:
                helpers[fn.name] = pos
                if default is not None:
                    out.setdefault(default, set()).add(where)
        for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
            name = _name(call.func)
            expr = next((k.value for k in call.keywords if k.arg == "code"), None)
            pos = helpers.get(name)
            if expr is None and pos is not None and len(call.args) > pos:
                expr = call.args[pos]
            via_super = isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Call) \
                and name == "__init__"  # super().__init__(..., code=...) of a problem class
            if expr is None or not (name in problems or name in helpers or via_super):
                continue
            if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
                out.setdefault(expr.value, set()).add(where)
            elif isinstance(expr, ast.Name) and expr.id in constants:
                out.setdefault(constants[expr.id], set()).add(where)
            elif (where, ast.unparse(expr)) in DYNAMIC:
                for code in DYNAMIC[(where, ast.unparse(expr))]:
                    out.setdefault(code, set()).add(where)
            elif (where, ast.unparse(expr)) not in PASSED_ON and not (
                    (isinstance(expr, ast.Name) and expr.id == "code") or ast.unparse(expr).endswith(".code")):
                unknown.append(f"{where}:{call.lineno}: code={ast.unparse(expr)}")
    assert not unknown, "codes built at run time: list their values in DYNAMIC (or PASSED_ON):\n" + "\n".join(unknown)
    return out


def _texts() -> dict[str, str]:
    """The problems' texts of the zh catalog: code -> text (error.title is the error page's heading)."""
    return {k.removeprefix("error."): v for k, v in i18n.catalog("zh").items()
            if k.startswith("error.") and k != "error.title"}


def test_the_scan_finds_the_codes_of_every_kind() -> None:
    codes = raised_codes()
    assert len(codes) > 450
    # literal, default of a class, module constant, helper argument (positional), helper default, run-time values
    for code in ("order.duplicate", "input.invalid", "not_found", "limit.exceeded", "data.invalid",
                 "value_report.days", "config.inline_analysis", "schedule.instance", "checkout.tax_bank_name",
                 "auth.locked", "rate_limited", "db.busy", "dispatch.unreachable"):
        assert code in codes, code
    assert "units.maybe_inch" not in codes and "wall.too_thin" not in codes and "too_big" not in codes


def test_every_problem_code_has_a_chinese_text() -> None:
    codes, texts = raised_codes(), _texts()
    missing = sorted(f"{code} ({', '.join(sorted(where))})" for code, where in codes.items() if code not in texts)
    assert not missing, f"{len(missing)} codes have no error.<code> text in errors.zh.yaml:\n" + "\n".join(missing)


def test_errors_zh_has_no_text_for_a_code_nothing_raises() -> None:
    own = yaml.safe_load((resources.files("fabgrid.web.i18n") / "errors.zh.yaml").read_text(encoding="utf-8"))
    stale = sorted(k for k in own if k.removeprefix("error.") not in raised_codes())
    assert not stale, f"texts of codes nothing raises any more: {stale}"


def test_the_texts_are_for_a_web_user_in_chinese() -> None:
    bad: list[str] = []
    for code, text in sorted(_texts().items()):
        if not _CJK.search(text):
            bad.append(f"{code}: not Chinese: {text}")
        if m := _ENGLISH_RUN.search(text):
            bad.append(f"{code}: English words {m.group(0)!r}")
        if m := _FORBIDDEN.search(text):
            bad.append(f"{code}: a flag, variable, route or command {m.group(0)!r}")
        if m := re.search(r"\{[^}]*\}", text):
            bad.append(f"{code}: a placeholder {m.group(0)} (the texts carry no values)")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("text", ["--days 3", "FABGRID_MASTER_KEY", "GET /api/v1/parts", "the file is not a mesh"])
def test_the_checks_catch_what_a_web_user_should_not_read(text: str) -> None:
    assert _FORBIDDEN.search(text) or _ENGLISH_RUN.search(text)


def test_a_key_written_twice_is_an_error_at_load(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="written twice"):
        yaml.load('error.a: "一"\nerror.a: "二"\n', Loader=i18n._UniqueKeys)  # a SafeLoader
    files = {"xx.yaml": {"hello": "你好", "error.a": "一"}, "errors.xx.yaml": {"error.a": "二", "error.b": "三"}}
    monkeypatch.setattr(i18n, "_read", files.get)
    with pytest.raises(ValueError, match=r"both define error\.a"):
        i18n.catalog.__wrapped__("xx")  # type: ignore[attr-defined]
    files["errors.xx.yaml"] = {"error.b": "三", "hello2": "不"}
    with pytest.raises(ValueError, match=r"not error\.<code>"):
        i18n.catalog.__wrapped__("xx")  # type: ignore[attr-defined]
    files["errors.xx.yaml"] = {"error.b": "三"}
    merged = i18n.catalog.__wrapped__("xx")  # type: ignore[attr-defined]
    assert merged == {"hello": "你好", "error.a": "一", "error.b": "三"}


def test_a_form_says_a_problem_in_the_readers_language() -> None:
    exc = InputError("bid deadline 'soon' is not a date and time", hint="YYYY-MM-DDTHH:MM", code="rfq.deadline")
    assert form_problem("zh", exc) == (i18n.catalog("zh")["error.rfq.deadline"], None)
    assert form_problem("en", exc) == (exc.message, exc.hint)
    unknown = InputError("something new", hint="do this", code="no.such_code")
    assert form_problem("zh", unknown) == ("something new", "do this")


def test_the_upload_script_gets_the_texts_of_the_uploads_problems_only() -> None:
    texts = problem_texts("zh")
    assert {"upload.file_type", "mesh.empty", "limit.file_size", "3mf.malformed", "rate_limited"} <= set(texts)
    assert "order.duplicate" not in texts and "rfq.closed" not in texts and problem_texts("en") == {}
