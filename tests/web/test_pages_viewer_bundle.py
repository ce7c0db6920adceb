"""The committed three.js viewer bundle: served by fabgrid (no CDN), licence beside it, and its face colouring
checked by running the bundle in Node when Node is installed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from importlib import resources

import pytest
from pages_kit import Site

VENDOR = resources.files("fabgrid.web") / "static" / "vendor"


def test_bundle_and_licence_are_served(site: Site) -> None:
    b = site.browser()
    js = b.get("/static/vendor/viewer.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert len(js.content) > 100_000 and b"FabgridViewer" in js.content
    lic = b.get("/static/vendor/viewer.LICENSE.txt")
    assert lic.status_code == 200 and "three.js" in lic.text and "MIT" in lic.text


def test_no_page_loads_scripts_from_elsewhere() -> None:
    root = resources.files("fabgrid.web") / "templates"
    for f in root.iterdir():
        text = f.read_text(encoding="utf-8")
        for src in re.findall(r'<script[^>]*src="([^"]+)"', text):
            assert src.startswith("/static/"), (f.name, src)


def test_face_colours_follow_the_findings_in_node() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (only needed to run the bundle outside a browser)")
    bundle = (VENDOR / "viewer.js").read_text(encoding="utf-8")
    findings = [{"severity": "warning", "face_indices": [1, 2]}, {"severity": "error", "face_indices": [2, 9, -1]}]
    script = (f"globalThis.window=globalThis;{bundle}\n"
              f"const r=FabgridViewer.faceColors(4,{json.dumps(findings)});"
              "console.log(JSON.stringify({marked:r.marked,c:Array.from(r.colors).map(x=>Math.round(x*100)/100)}));")
    out = subprocess.run([node, "-"], input=script, capture_output=True, text=True, timeout=60, check=True).stdout
    doc = json.loads(out)
    colours = [doc["c"][i * 9:i * 9 + 3] for i in range(4)]
    assert doc["marked"] == 2  # faces 1 and 2; 9 and -1 are outside the mesh
    assert colours[0] == colours[3] == [0.72, 0.75, 0.8]
    assert colours[1] == [0.96, 0.62, 0.04]  # warning
    assert colours[2] == [0.86, 0.15, 0.15]  # error outranks warning


def test_the_viewer_says_a_failed_load_in_the_pages_language(site: Site) -> None:
    """The part page hands the viewer its message for a mesh that could not be loaded, in the page's language,
    and the bundle uses it (instead of a bare 'mesh: HTTP 404')."""
    import html

    zh = site.browser("zh-CN")
    site.signup_buyer(zh)
    part = site.upload(zh)
    page = html.unescape(zh.get(f"/parts/{part['id']}").text)
    said = re.search(r'data-mesh-error="([^"]*)"', page)
    assert said is not None and said.group(1) == "无法加载零件的三维视图（HTTP {status}）：请刷新页面。"
    bundle = (VENDOR / "viewer.js").read_text(encoding="utf-8")
    assert "meshError" in bundle and "mesh: HTTP" not in bundle
