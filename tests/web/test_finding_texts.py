"""Every DFM finding and every quote limit a buyer reads exists in Chinese (issue 17): each code a DFM rule emits
(`DfmFinding(code=...)` anywhere in src/fabgrid, the codes built at run time expanded below) has a
`finding.<code>.message` and `finding.<code>.fix`, each limit the quote page can list (`Limit(code=...)`, the
rejections' codes passed on) a `limit.<code>` text, in web/i18n/findings.zh.yaml; the texts are Chinese for a web
user, their placeholders are the ones web.findings fills, and the part and quote pages in zh-CN show them with the
finding's values (English pages keep the engine's sentence)."""

from __future__ import annotations

import ast
import functools
import html
import re
import time
from importlib import resources
from pathlib import Path

import pytest
import trimesh
import yaml
from fastapi.testclient import TestClient
from pages_kit import Site, csrf_of

from fabgrid.data import load_catalog
from fabgrid.domain.catalog import ProcessFamily, local_name
from fabgrid.domain.part_facts import DfmFinding, Severity
from fabgrid.domain.quote import Limit
from fabgrid.geometry.units import GUESS_UNITS
from fabgrid.web import i18n
from fabgrid.web.findings import LIMIT_KEYS, LIMIT_PLACEHOLDERS, PLACEHOLDERS, finding_text, limit_text

SRC = Path(__file__).resolve().parents[2] / "src" / "fabgrid"

#: Finding codes built at run time, by (file, the code expression as written): the codes it makes. A new
#: expression fails the test until it is listed here.
DYNAMIC: dict[tuple[str, str], tuple[str, ...]] = {
    # mesh_rules.units_guessed: the unit the loader read a unit-less file in (load._unit_guess: guess_unit's
    # choice among units.GUESS_UNITS)
    ("geometry/dfm/mesh_rules.py", "f'units.guessed_{ctx.units}'"): ("units.guessed_inch", "units.guessed_m"),
    # mesh_rules.units: guess_unit(...).unit, one of units.GUESS_UNITS
    ("geometry/dfm/mesh_rules.py", "f'units.maybe_{unit}'"): ("units.maybe_inch", "units.maybe_m"),
}
#: Limit codes passed on from the rejections (services.quotes._limits: one limit per rejection code): every
#: `Rejection(code=...)` of src/fabgrid.
FROM_REJECTIONS = {("services/quotes.py", "code")}
#: Keys of findings.zh.yaml that are no code's text: the words `media` stands for.
HELPER_KEYS = {"finding.media.resin", "finding.media.powder"}

_CJK = re.compile(r"[\u4e00-\u9fff]")
_ENGLISH_RUN = re.compile(r"[A-Za-z][A-Za-z0-9_'-]*(?:[ ,./:;()'\"-]+[A-Za-z][A-Za-z0-9_'-]*){3,}")
_FORBIDDEN = re.compile(r"--[a-z]|FABGRID_|/api/|`")
_PLACEHOLDER = re.compile(r"\{([^}]*)\}")


def _name(func: ast.expr) -> str:
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


@functools.cache
def _codes() -> dict[str, dict[str, set[str]]]:
    """{"finding" | "rejection" | "limit": code -> the files that make it}; fails on a code expression that is
    neither a literal nor listed in DYNAMIC / FROM_REJECTIONS."""
    out: dict[str, dict[str, set[str]]] = {"finding": {}, "rejection": {}, "limit": {}}
    unknown: list[str] = []
    passed_on: list[str] = []
    for path in sorted(SRC.rglob("*.py")):
        where = path.relative_to(SRC).as_posix()
        for call in (n for n in ast.walk(ast.parse(path.read_text(encoding="utf-8"))) if isinstance(n, ast.Call)):
            kind = {"DfmFinding": "finding", "Rejection": "rejection", "Limit": "limit"}.get(_name(call.func))
            expr = next((k.value for k in call.keywords if k.arg == "code"), None)
            if kind is None or expr is None:  # services.ratelimit's Limit(n, window_s) has no code
                continue
            written = ast.unparse(expr)
            if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
                out[kind].setdefault(expr.value, set()).add(where)
            elif kind == "finding" and (where, written) in DYNAMIC:
                for code in DYNAMIC[(where, written)]:
                    out[kind].setdefault(code, set()).add(where)
            elif kind == "limit" and (where, written) in FROM_REJECTIONS:
                passed_on.append(where)
            else:
                unknown.append(f"{where}:{call.lineno}: {_name(call.func)}(code={written})")
    assert not unknown, "codes built at run time: list their values in DYNAMIC:\n" + "\n".join(unknown)
    for where in passed_on:
        for code in out["rejection"]:
            out["limit"].setdefault(code, set()).add(where)
    return out


def _own() -> dict[str, str]:
    data = yaml.safe_load((resources.files("fabgrid.web.i18n") / "findings.zh.yaml").read_text(encoding="utf-8"))
    return {str(k): str(v) for k, v in data.items()}


def test_the_scan_finds_the_codes_of_every_kind() -> None:
    codes = _codes()
    findings, limits = codes["finding"], codes["limit"]
    assert len(findings) >= 20 and len(limits) >= 12
    # a mesh rule, a process rule, the analysis itself (report.py), both unit findings
    for code in ("mesh.open", "wall.too_thin", "size.exceeds_build_volume", "mesh.self_intersection_not_checked",
                 "units.guessed_inch", "units.maybe_m"):
        assert code in findings, code
    for code in ("too_big", "dfm", "certification", "ships_to", "queue_full", "probation_cap"):
        assert code in limits, code
    # the expansions are the units the loader and guess_unit can choose
    assert DYNAMIC[("geometry/dfm/mesh_rules.py", "f'units.guessed_{ctx.units}'")] == tuple(
        f"units.guessed_{u}" for u in GUESS_UNITS)
    assert DYNAMIC[("geometry/dfm/mesh_rules.py", "f'units.maybe_{unit}'")] == tuple(
        f"units.maybe_{u}" for u in GUESS_UNITS)


def test_every_finding_code_has_a_chinese_message_and_fix() -> None:
    zh = i18n.catalog("zh")
    missing = sorted(f"{code} ({', '.join(sorted(where))}): no {key}" for code, where in _codes()["finding"].items()
                     for key in (f"finding.{code}.message", f"finding.{code}.fix") if key not in zh)
    assert not missing, f"{len(missing)} finding texts missing in findings.zh.yaml:\n" + "\n".join(missing)


def test_every_limit_the_quote_page_lists_has_a_chinese_text() -> None:
    zh = i18n.catalog("zh")
    missing = sorted(f"{code} ({', '.join(sorted(where))}): no {LIMIT_KEYS.get(code, f'limit.{code}')}"
                     for code, where in _codes()["limit"].items() if LIMIT_KEYS.get(code, f"limit.{code}") not in zh)
    assert not missing, f"{len(missing)} limit texts missing in findings.zh.yaml:\n" + "\n".join(missing)


def test_findings_zh_has_no_text_for_a_code_nothing_emits() -> None:
    findings, limits = _codes()["finding"], _codes()["limit"]
    stale = []
    for key in _own():
        if key in HELPER_KEYS:
            continue
        if key.startswith("finding."):
            code, _, part = key.removeprefix("finding.").rpartition(".")
            if code not in findings or part not in ("message", "fix"):
                stale.append(key)
        elif key.removeprefix("limit.") not in limits or key.removeprefix("limit.") in LIMIT_KEYS:
            stale.append(key)
    assert not stale, f"texts of codes nothing emits any more: {stale}"


def test_the_texts_are_for_a_web_user_in_chinese_with_the_values_the_helper_fills() -> None:
    bad: list[str] = []
    for key, text in sorted(_own().items()):
        if not _CJK.search(text):
            bad.append(f"{key}: not Chinese: {text}")
        if m := _ENGLISH_RUN.search(text):
            bad.append(f"{key}: English words {m.group(0)!r}")
        if m := _FORBIDDEN.search(text):
            bad.append(f"{key}: a flag, variable, route or command {m.group(0)!r}")
        allowed = LIMIT_PLACEHOLDERS if key.startswith("limit.") else PLACEHOLDERS
        if unknown := sorted(set(_PLACEHOLDER.findall(text)) - allowed):
            bad.append(f"{key}: placeholders {unknown} that web.findings does not fill")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("text", ["the surface is open", "see --units inch", "GET /api/v1/parts", "墙厚 {wall}"])
def test_the_checks_catch_what_a_web_user_should_not_read(text: str) -> None:
    assert _ENGLISH_RUN.search(text) or _FORBIDDEN.search(text) or set(_PLACEHOLDER.findall(text)) - PLACEHOLDERS


def _finding(code: str, process: ProcessFamily | None = ProcessFamily.SLA, machine: str | None = None) -> DfmFinding:
    return DfmFinding(code=code, severity=Severity.WARNING, message=f"the English message of {code}",
                      fix="the English fix", process=process, machine_model=machine, value=1.234, limit=0.8)


def test_the_helper_fills_every_text_with_the_findings_values() -> None:
    cat = load_catalog()
    model = next(iter(cat.machine_models.values()))
    for code in _codes()["finding"]:
        f = _finding(code, model.process, model.id)
        zh = finding_text("zh", f, cat)
        assert _CJK.search(zh.message) and _CJK.search(zh.fix) and "{" not in zh.message + zh.fix, (code, zh)
        assert "English" not in zh.message + zh.fix, code
        assert zh.process == local_name(cat.processes[model.process], "zh") and zh.machine == local_name(model, "zh")
        texts = i18n.catalog("zh")[f"finding.{code}.message"] + i18n.catalog("zh")[f"finding.{code}.fix"]
        for name, shown in (("value_mm", "1.23"), ("limit_mm", "0.8"), ("count", "1"), ("value_mm3", "1.23")):
            if "{" + name + "}" in texts:
                assert shown in zh.message + zh.fix, (code, name, zh)
        # English pages: the engine's sentence, word for word, and the process and model as the finding has them
        assert finding_text("en", f, cat) == (f.message, f.fix, model.process.value, model.id)
    # the cavity traps resin in SLA, powder in SLS; a measured wall keeps 2 decimals
    assert "树脂" in finding_text("zh", _finding("trapped.volume", ProcessFamily.SLA), cat).message
    assert "粉末" in finding_text("zh", _finding("trapped.volume", ProcessFamily.SLS), cat).message
    thin = finding_text("zh", _finding("wall.too_thin", ProcessFamily.FDM).model_copy(update={"value": 0.3456}), cat)
    assert "0.35 毫米" in thin.message and "0.8 毫米" in thin.message and "熔融沉积" in thin.message


def test_an_unknown_code_or_a_missing_value_keeps_the_english_sentence() -> None:
    cat = load_catalog()
    new = _finding("mesh.something_new")
    assert finding_text("zh", new, cat)[:2] == (new.message, new.fix)
    lacking = _finding("wall.too_thin").model_copy(update={"value": None})
    assert finding_text("zh", lacking, cat)[:2] == (lacking.message, lacking.fix)


def test_a_limit_in_the_readers_language() -> None:
    cat = load_catalog()
    zh = i18n.catalog("zh")
    certs = Limit(code="certification", message="18 site(s): X lacks certification ISO 13485", figures={"sites": 18})
    assert limit_text("zh", certs, [], cat) == zh["limit.certification"].format(sites="18")
    assert limit_text("en", certs, [], cat) == certs.message
    cavity = DfmFinding(code="trapped.volume", severity=Severity.ERROR, message="an enclosed cavity of 1e+04 mm3",
                        fix="add holes", process=ProcessFamily.SLA, value=10000.0, limit=3.5)
    dfm = Limit(code="dfm", message=f"DFM error for sla: {cavity.message}", figures={"min_wall_mm": 8.0,
                                                                                     "process_min_wall_mm": 0.5})
    shown = limit_text("zh", dfm, [cavity], cat)
    assert shown == zh["limit.dfm"].format(finding=finding_text("zh", cavity, cat).message) and "10000" in shown
    assert limit_text("zh", dfm, [], cat) == zh["reject.dfm"]  # the part was analysed again since: say it plainly
    assert limit_text("en", dfm, [cavity], cat) == dfm.message
    wall = dfm.model_copy(update={"figures": {"min_wall_mm": 0.2, "process_min_wall_mm": 0.5}})
    assert limit_text("zh", wall, [cavity], cat) == i18n.translate("zh", "quote.limit_wall", wall="0.20", need="0.5")
    big = Limit(code="too_big", message="the part is 600 x 40 x 40 mm; ...", figures={
        "part_x_mm": 600.0, "part_y_mm": 40.0, "part_z_mm": 40.0, "envelope_x_mm": 300.0, "envelope_y_mm": 300.0,
        "envelope_z_mm": 300.0, "machine_model": "creality_k1max"})
    assert limit_text("en", big, [], cat) == ("The part is 600 × 40 × 40 mm; the largest build envelope for this "
                                              "process and material is 300 × 300 × 300 mm (creality_k1max).")
    assert local_name(cat.machine_models["creality_k1max"], "zh") in limit_text("zh", big, [], cat)


def test_the_catalog_refuses_a_finding_text_written_twice_or_a_stray_key(monkeypatch: pytest.MonkeyPatch) -> None:
    files: dict[str, dict[str, str]] = {"xx.yaml": {"hello": "你好"}, "errors.xx.yaml": {"error.a": "一"},
                                        "findings.xx.yaml": {"finding.a.message": "二", "limit.b": "三"}}
    monkeypatch.setattr(i18n, "_read", files.get)
    assert i18n.catalog.__wrapped__("xx") == {  # type: ignore[attr-defined]
        "hello": "你好", "error.a": "一", "finding.a.message": "二", "limit.b": "三"}
    files["findings.xx.yaml"] = {"finding.a.message": "二", "hello": "不"}
    with pytest.raises(ValueError, match=r"keys hello are not finding\.<code> or limit\.<code>"):
        i18n.catalog.__wrapped__("xx")  # type: ignore[attr-defined]
    files["findings.xx.yaml"] = {"finding.a.message": "二", "error.a": "不"}
    with pytest.raises(ValueError, match=r"not finding"):
        i18n.catalog.__wrapped__("xx")  # type: ignore[attr-defined]
    files["xx.yaml"] = {"hello": "你好", "limit.b": "四"}
    files["findings.xx.yaml"] = {"limit.b": "三"}
    with pytest.raises(ValueError, match=r"xx\.yaml and findings\.xx\.yaml both define limit\.b"):
        i18n.catalog.__wrapped__("xx")  # type: ignore[attr-defined]


# --- the pages ---------------------------------------------------------------------------------------------------

def _hollow_box() -> trimesh.Trimesh:
    """A 40 mm cube with a closed 24 mm cavity: resin or powder stays inside (trapped.volume), two shells."""
    outer, inner = trimesh.creation.box([40.0] * 3), trimesh.creation.box([24.0] * 3)
    inner.invert()
    return trimesh.util.concatenate([outer, inner])


def _ready(site: Site, b: TestClient, mesh: trimesh.Trimesh, name: str) -> str:
    part = site.upload(b, mesh.export(file_type="stl"), name=name)
    deadline = time.monotonic() + 60
    while b.get(f"/api/v1/parts/{part['id']}").json()["status"] != "ready":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    return str(part["id"])


def _items(page: str, ul: str) -> dict[str, list[str]]:
    """data-code -> the visible texts of the <li>s of the list `ul` of a page."""
    m = re.search(rf'<ul id="{ul}"[^>]*>(.*?)</ul>', page, re.S)
    assert m, f"no list {ul}"
    out: dict[str, list[str]] = {}
    for code, body in re.findall(r'<li[^>]*data-code="([^"]+)"[^>]*>(.*?)</li>', m.group(1), re.S):
        out.setdefault(code, []).append(" ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split()))
    return out


def test_the_part_and_quote_pages_say_findings_and_limits_in_chinese(site: Site) -> None:
    zh_b, en_b = site.browser("zh-CN"), site.browser("en")
    site.login(en_b, site.signup_buyer(zh_b))
    cat, zh = load_catalog(), i18n.catalog("zh")
    bar = _ready(site, zh_b, trimesh.creation.box((600.0, 40.0, 40.0)), "bar.stl")
    hollow = _ready(site, zh_b, _hollow_box(), "hollow.stl")
    for pid in (bar, hollow):
        findings = [DfmFinding.model_validate(f) for f in zh_b.get(f"/api/v1/parts/{pid}").json()["findings"]]
        assert len({f.code for f in findings}) >= 2, [f.code for f in findings]
        zh_page, en_page = zh_b.get(f"/parts/{pid}").text, en_b.get(f"/parts/{pid}").text
        zh_items, en_items = _items(zh_page, "findings"), _items(en_page, "findings")
        for f in findings:
            shown = finding_text("zh", f, cat)
            assert shown.message != f.message and _CJK.search(shown.message), f.code
            assert any(shown.message in t and shown.fix in t for t in zh_items[f.code]), (f.code, zh_items[f.code])
            assert f.message not in html.unescape(zh_page) and f.fix not in html.unescape(zh_page), f.code
            assert any(f.message in t and f.fix in t for t in en_items[f.code]), (f.code, en_items[f.code])
    # the values, as a reader checks them: the bar against the K1 Max (300 mm cube), the cavity of 24³ mm³
    bar_zh = _items(zh_b.get(f"/parts/{bar}").text, "findings")
    k1 = local_name(cat.machine_models["creality_k1max"], "zh")
    assert any(zh["finding.size.exceeds_build_volume.message"].format(
        value_mm="600", machine=k1, build_volume="300 × 300 × 300") in t for t in bar_zh["size.exceeds_build_volume"])
    fdm = local_name(cat.processes[ProcessFamily.FDM], "zh")
    assert any(f"最长边 600 毫米）放不进网络中任何一种{fdm}设备" in t for t in bar_zh["size.fits_no_machine"])
    cavity = _items(zh_b.get(f"/parts/{hollow}").text, "findings")["trapped.volume"]
    assert any("13824 立方毫米" in t and "树脂" in t and "3.5 毫米" in t for t in cavity), cavity

    # the quotes nothing can make: too big for every FDM machine; a cavity SLA cannot print, and the sites that
    # could print it otherwise lack the certificate asked for
    for pid, material, cert in ((bar, "fdm_pla", ""), (hollow, "sla_standard", "ISO 13485")):
        page = zh_b.get(f"/parts/{pid}")
        r = zh_b.post(f"/parts/{pid}/quote", data={"csrf_token": csrf_of(page.text), "material": material,
                                                    "quantity": "2", "destination": "Shenzhen", "certificate": cert})
        assert r.status_code == 303, r.text
        url = r.headers["location"]
        limits = {lim["code"]: lim for lim in zh_b.get("/api/v1/quotes/" + url.rsplit("/", 1)[1]).json()
                  ["unmakeable"]["limits"]}
        assert "dfm" in limits and len(limits) >= 2, limits
        zh_q, en_q = _items(zh_b.get(url).text, "limits"), _items(en_b.get(url).text, "limits")
        assert set(zh_q) == set(en_q) == set(limits)
        for code, lim in limits.items():
            assert lim["message"] not in zh_q[code][0] and _CJK.search(zh_q[code][0]), (code, zh_q[code])
            if code != "too_big":
                assert en_q[code] == [lim["message"]], (code, en_q[code])
        if pid == bar:
            assert k1 in zh_q["too_big"][0] and "600 × 40 × 40" in zh_q["too_big"][0]
            assert "largest build envelope" in en_q["too_big"][0]
            fits_none = f"零件（最长边 600 毫米）放不进网络中任何一种{fdm}设备。"
            assert zh_q["dfm"] == [zh["limit.dfm"].format(finding=fits_none)]
        else:
            sla = local_name(cat.processes[ProcessFamily.SLA], "zh")
            assert zh_q["dfm"][0].startswith("零件不符合该工艺的设计规则：有一个 13824 立方毫米的封闭空腔没有开口")
            assert f"{sla}会把树脂留在里面" in zh_q["dfm"][0]
            sites = int(limits["certification"]["figures"]["sites"])
            assert zh_q["certification"] == [f"{sites} 家工厂缺少零件所需的认证。"] and sites > 0
