"""Loading: STL binary/ASCII, OBJ, PLY, 3MF (components, production extension paths, build transforms,
units), STEP without the extra, units, limits and zip-bomb guard."""

from __future__ import annotations

import importlib.util
import io
import zipfile

import numpy as np
import pytest
import trimesh

from fabgrid.errors import InputError, LimitError
from fabgrid.geometry import limits
from fabgrid.geometry.load import load_bytes, load_path, weld

CORE = "http://schemas.microsoft.com/3dmanufacturing/core/2015/02"
PROD = "http://schemas.microsoft.com/3dmanufacturing/production/2015/06"


def _mesh_xml(mesh: trimesh.Trimesh) -> str:
    v = "".join(f'<vertex x="{x}" y="{y}" z="{z}"/>' for x, y, z in mesh.vertices)
    t = "".join(f'<triangle v1="{a}" v2="{b}" v3="{c}"/>' for a, b, c in mesh.faces)
    return f"<mesh><vertices>{v}</vertices><triangles>{t}</triangles></mesh>"


def _zip(files: dict[str, str | bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


RELS = ('<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Target="/3D/3dmodel.model" Id="rel0" '
        'Type="http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel"/></Relationships>')


def test_stl_binary_and_ascii_agree() -> None:
    box = trimesh.creation.box([10, 20, 30])
    binary = load_bytes(box.export(file_type="stl"), "a.stl")
    ascii_ = load_bytes(box.export(file_type="stl_ascii").encode(), "a.stl")
    for m in (binary, ascii_):
        assert m.triangles == 12 and len(m.vertices) == 8
        np.testing.assert_allclose(np.ptp(m.vertices, axis=0), [10, 20, 30], rtol=1e-6)
    assert binary.fmt == ascii_.fmt == "stl"


def test_ascii_stl_with_two_solids_gives_two_objects() -> None:
    a = trimesh.creation.box([1, 1, 1]).export(file_type="stl_ascii").replace("solid", "solid first", 1)
    b = trimesh.creation.box([1, 1, 1]).apply_translation([3, 0, 0]).export(file_type="stl_ascii")
    m = load_bytes((a + "\n" + b).encode(), "two.stl")
    assert m.triangles == 24 and len(m.group_names) == 2 and m.group_names[0].startswith("first")


def test_truncated_binary_stl_is_an_input_error() -> None:
    data = trimesh.creation.box([1, 1, 1]).export(file_type="stl")
    with pytest.raises(InputError) as err:
        load_bytes(data[:-30], "cut.stl")
    assert err.value.code == "mesh.truncated"


def test_obj_and_ply_load() -> None:
    ico = trimesh.creation.icosphere(2)
    for ext in ("obj", "ply"):
        m = load_bytes(ico.export(file_type=ext).encode() if ext == "obj" else ico.export(file_type=ext),
                       f"ico.{ext}")
        assert m.triangles == len(ico.faces) and len(m.vertices) == len(ico.vertices)


def test_3mf_components_production_paths_transforms_and_inch_unit() -> None:
    cube = trimesh.creation.box([1, 1, 1])
    sub = f'<model unit="inch" xmlns="{CORE}"><resources><object id="1" type="model">{_mesh_xml(cube)}' \
          '</object></resources><build/></model>'
    root = (f'<model unit="inch" xmlns="{CORE}" xmlns:p="{PROD}"><resources>'
            '<object id="5" type="model" name="assembly"><components>'
            '<component objectid="1" p:path="/3D/Objects/object_1.model"/>'
            '<component objectid="1" p:path="/3D/Objects/object_1.model" transform="1 0 0 0 1 0 0 0 1 3 0 0"/>'
            '</components></object></resources><build>'
            '<item objectid="5" transform="1 0 0 0 1 0 0 0 1 0 0 10"/>'
            '<item objectid="5" transform="0 1 0 -1 0 0 0 0 1 0 20 0"/></build></model>')
    data = _zip({"_rels/.rels": RELS, "3D/3dmodel.model": root, "3D/Objects/object_1.model": sub})
    m = load_bytes(data, "plate.3mf")
    assert m.units == "inch" and m.units_source == "file"
    assert m.triangles == 48 and len(m.group_names) == 2
    first = m.vertices[np.unique(m.faces[m.group == 0])]
    # two unit cubes 3 inch apart, lifted by 10 inch: x from -0.5 to 3.5 inch, z from 9.5 inch
    np.testing.assert_allclose(first.min(axis=0), np.array([-0.5, -0.5, 9.5]) * 25.4)
    np.testing.assert_allclose(first.max(axis=0), np.array([3.5, 0.5, 10.5]) * 25.4)
    second = m.vertices[np.unique(m.faces[m.group == 1])]
    np.testing.assert_allclose(np.ptp(second, axis=0), np.array([1, 4, 1]) * 25.4)  # rotated 90 deg


def test_units_override_and_3mf_errors() -> None:
    box = trimesh.creation.box([1, 2, 3]).export(file_type="stl")
    m = load_bytes(box, "b.stl", units="inch")
    np.testing.assert_allclose(np.ptp(m.vertices, axis=0), np.array([1, 2, 3]) * 25.4)
    with pytest.raises(InputError) as err:
        load_bytes(box, "b.stl", units="furlong")
    assert err.value.code == "mesh.units"
    bad = _zip({"3D/3dmodel.model": f'<model xmlns="{CORE}"><resources><object id="1"><mesh><vertices>'
                '<vertex x="0" y="0" z="0"/></vertices><triangles><triangle v1="0" v2="1" v3="2"/>'
                '</triangles></mesh></object></resources><build><item objectid="1"/></build></model>'})
    with pytest.raises(InputError) as err:
        load_bytes(bad, "bad.3mf")
    assert err.value.code == "3mf.malformed"
    with pytest.raises(InputError):
        load_bytes(b"PK\x03\x04 not really a zip", "x.3mf")


def test_zip_bomb_is_refused_before_extraction() -> None:
    bomb = _zip({"_rels/.rels": RELS, "3D/3dmodel.model": b"\0" * (8 * 1024 * 1024)})
    with pytest.raises(LimitError) as err:
        load_bytes(bomb, "bomb.3mf")
    assert err.value.code == "limit.3mf_ratio" and "zip bomb" in err.value.message


def test_limits_file_size_and_triangles(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = trimesh.creation.icosphere(2).export(file_type="stl")
    monkeypatch.setattr(limits, "MAX_TRIANGLES", 100)
    with pytest.raises(LimitError) as err:
        load_bytes(data, "ico.stl")
    assert err.value.code == "limit.triangles" and "100" in err.value.message
    monkeypatch.setattr(limits, "MAX_FILE_BYTES", 1000)
    path = tmp_path / "ico.stl"
    path.write_bytes(data)
    with pytest.raises(LimitError) as err:
        load_path(path)
    assert err.value.code == "limit.file_size"


def test_step_without_extra_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "cascadio" else real(n, *a))
    with pytest.raises(InputError) as err:
        load_bytes(b"ISO-10303-21;\nHEADER;\n", "part.step")
    assert err.value.code == "step.extra_missing" and "fabgrid[step]" in (err.value.hint or "")


def test_empty_unknown_and_nonfinite_inputs() -> None:
    with pytest.raises(InputError) as err:
        load_bytes(b"", "e.stl")
    assert err.value.code == "mesh.empty"
    with pytest.raises(InputError) as err:
        load_bytes(b"hello world", "e.xyz")
    assert err.value.code == "mesh.format"
    bad = ("solid x\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 0 0\nvertex nan 1 0\n"
           "endloop\nendfacet\nendsolid")
    with pytest.raises(InputError) as err:
        load_bytes(bad.encode(), "n.stl")
    assert err.value.code == "mesh.nonfinite"


def test_weld_merges_only_identical_points() -> None:
    pts = np.array([[0, 0, 0], [1, 0, 0], [0.0, -0.0, 0], [1, 0, 1e-12]], dtype=np.float64)
    v, inv = weld(pts)
    assert len(v) == 3 and inv[0] == inv[2] and inv[1] != inv[3]
