"""The attack corpus of part intake, generated in code: the files of issue 16 and their cousins.

Each `Case` is a file name, its bytes (built on demand) and what intake must answer: `code` None for a part
that is analysed (status ready), else the InputError code and the HTTP status the API answers with.
`bench/hostile.py` runs the same corpus in child processes and reports time and peak memory per case.
"""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

CORE = "http://schemas.microsoft.com/3dmanufacturing/core/2015/02"
PROD = "http://schemas.microsoft.com/3dmanufacturing/production/2015/06"
RELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
        '2006/relationships"><Relationship Target="/3D/3dmodel.model" Id="rel0" '
        'Type="http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel"/></Relationships>')


@dataclass(frozen=True)
class Case:
    """A hostile (or merely odd) file and the answer intake owes it."""

    id: str
    filename: str
    make: Callable[[], bytes]
    code: str | None  # None: analysed, status ready
    status: int = 201  # what POST /api/v1/parts answers
    heavy: bool = False  # large to build or to analyse: the bench runs it, the quick tests may skip it


# ---------------------------------------------------------------- STL

_FACET = ("facet normal 0 0 1\n outer loop\n  vertex {0} {1} {2}\n  vertex {3} {4} {5}\n  vertex {6} {7} {8}\n"
          " endloop\nendfacet\n")


def ascii_stl(tris: np.ndarray, name: str = "part") -> bytes:  # type: ignore[type-arg]
    """(m, 3, 3) triangles as an ASCII STL solid."""
    body = "".join(_FACET.format(*(repr(float(v)) for v in t.reshape(-1))) for t in tris)
    return f"solid {name}\n{body}endsolid {name}\n".encode()


def tetra(scale: float = 10.0) -> np.ndarray:  # type: ignore[type-arg]
    """A closed tetrahedron, (4, 3, 3) triangles."""
    p = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float64) * scale
    return p[np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])]


def binary_stl(tris: np.ndarray, declared: int | None = None) -> bytes:  # type: ignore[type-arg]
    """(m, 3, 3) triangles as binary STL; `declared` overrides the triangle count of the header."""
    rec = np.zeros(len(tris), dtype=[("n", "<f4", 3), ("t", "<f4", (3, 3)), ("a", "<u2")])
    rec["t"] = tris
    n = len(tris) if declared is None else declared
    return b"\0" * 80 + struct.pack("<I", n) + rec.tobytes()


def stl_blank_lines(lines: int) -> bytes:
    """Issue 16 item 1: a valid solid followed by `lines` blank lines (quadratic for a `^\\s*solid` re.M)."""
    return ascii_stl(tetra()) + b"\n" * lines


def stl_blank_lines_in_solid(lines: int) -> bytes:
    """Blank lines inside a solid with no `endsolid` (the body runs to the end of the file)."""
    return ascii_stl(tetra())[: -len(b"endsolid part\n")] + b"   \n" * lines


def stl_many_solid_words(n: int) -> bytes:
    """The word `solid` on many lines after the part (each a header without triangles)."""
    return ascii_stl(tetra()) + b"solid\n" * n


def stl_huge_coordinates(value: float) -> bytes:
    """Issue 16 item 6: finite coordinates near 1e151 (their cube overflows a float)."""
    return ascii_stl(tetra() / 10.0 * value)


# ---------------------------------------------------------------- 3MF


def zip3mf(files: dict[str, str | bytes], compression: int = zipfile.ZIP_DEFLATED, level: int | None = None) -> bytes:
    """A 3MF package of `files` (path -> content)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression, compresslevel=level) as z:
        for path, content in files.items():
            z.writestr(path, content)
    return buf.getvalue()


def mesh_xml(tris: np.ndarray) -> str:  # type: ignore[type-arg]
    """A <mesh> of (m, 3, 3) triangles (vertices not merged)."""
    pts = tris.reshape(-1, 3)
    v = "".join(f'<vertex x="{a:g}" y="{b:g}" z="{c:g}"/>' for a, b, c in pts)
    t = "".join(f'<triangle v1="{3 * i}" v2="{3 * i + 1}" v3="{3 * i + 2}"/>' for i in range(len(tris)))
    return f"<mesh><vertices>{v}</vertices><triangles>{t}</triangles></mesh>"


def model(resources: str, build: str, extra_ns: str = "") -> str:
    """A 3D model document."""
    return (f'<?xml version="1.0" encoding="UTF-8"?><model unit="millimeter" xmlns="{CORE}"{extra_ns}>'
            f"<resources>{resources}</resources><build>{build}</build></model>")


def good_3mf() -> bytes:
    """A plain 3MF with one tetrahedron."""
    return zip3mf({"_rels/.rels": RELS, "3D/3dmodel.model": model(
        f'<object id="1" type="model">{mesh_xml(tetra())}</object>', '<item objectid="1"/>')})


def threemf_fanout(levels: int = 17, fanout: int = 4, leaf_mesh: bool = True) -> bytes:
    """Issue 16 item 2: `levels` objects, each placing the next `fanout` times (fanout^(levels-1) leaves)."""
    objs = [f'<object id="{levels}" type="model">{mesh_xml(tetra()) if leaf_mesh else "<mesh/>"}</object>']
    for k in range(levels - 1, 0, -1):
        comps = "".join(f'<component objectid="{k + 1}" transform="1 0 0 0 1 0 0 0 1 {j} 0 0"/>'
                        for j in range(fanout))
        objs.append(f'<object id="{k}" type="model"><components>{comps}</components></object>')
    return zip3mf({"_rels/.rels": RELS, "3D/3dmodel.model": model("".join(objs), '<item objectid="1"/>')})


def threemf_cycle() -> bytes:
    """Two objects that place each other."""
    objs = ('<object id="1" type="model"><components><component objectid="2"/></components></object>'
            '<object id="2" type="model"><components><component objectid="1"/></components></object>')
    return zip3mf({"_rels/.rels": RELS, "3D/3dmodel.model": model(objs, '<item objectid="1"/>')})


def threemf_unused_vertices(mib: float) -> bytes:
    """Issue 16 item 8: a tetrahedron plus about `mib` MiB of vertices no triangle uses (compresses ~3x)."""
    rng = np.random.default_rng(16)
    block = "".join(f'<vertex x="{a:.5f}" y="{b:.5f}" z="{c:.5f}"/>' for a, b, c in rng.uniform(10, 99, (20_000, 3)))
    unused = block * max(1, round(mib * 2**20 / len(block)))  # 1 MiB blocks: deflate (32 KiB window) sees no repeat
    tri = tetra().reshape(-1, 3)
    used = "".join(f'<vertex x="{a:g}" y="{b:g}" z="{c:g}"/>' for a, b, c in tri)
    t = "".join(f'<triangle v1="{3 * i}" v2="{3 * i + 1}" v3="{3 * i + 2}"/>' for i in range(4))
    obj = f'<object id="1" type="model"><mesh><vertices>{used}{unused}</vertices><triangles>{t}</triangles>' \
          "</mesh></object>"
    return zip3mf({"_rels/.rels": RELS, "3D/3dmodel.model": model(obj, '<item objectid="1"/>')}, level=1)


def threemf_bomb() -> bytes:
    """8 MiB of zeros in the model member (ratio ~1000)."""
    return zip3mf({"_rels/.rels": RELS, "3D/3dmodel.model": b"\0" * (8 * 2**20)})


def threemf_billion_laughs() -> bytes:
    """Entity expansion in the model XML (must never be expanded)."""
    ents = '<!ENTITY a0 "lol">' + "".join(f'<!ENTITY a{i} "{("&a" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
    doc = (f'<?xml version="1.0"?><!DOCTYPE model [{ents}]><model unit="millimeter" xmlns="{CORE}"><resources>'
           f'<object id="1" type="model" name="&a9;">{mesh_xml(tetra())}</object></resources>'
           '<build><item objectid="1"/></build></model>')
    return zip3mf({"_rels/.rels": RELS, "3D/3dmodel.model": doc})


def threemf_xxe() -> bytes:
    """An external entity naming a local file."""
    doc = (f'<?xml version="1.0"?><!DOCTYPE model [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           f'<model unit="millimeter" xmlns="{CORE}"><resources><object id="1" type="model" name="&x;">'
           f'{mesh_xml(tetra())}</object></resources><build><item objectid="1"/></build></model>')
    return zip3mf({"_rels/.rels": RELS, "3D/3dmodel.model": doc})


def threemf_deep_xml(depth: int = 100_000) -> bytes:
    """Elements nested far deeper than any model needs."""
    doc = f'<model xmlns="{CORE}">' + "<a>" * depth + "</a>" * depth + "</model>"
    return zip3mf({"_rels/.rels": RELS, "3D/3dmodel.model": doc})


def threemf_bad_index() -> bytes:
    """A triangle that names a vertex the object does not have."""
    obj = ('<object id="1" type="model"><mesh><vertices><vertex x="0" y="0" z="0"/></vertices><triangles>'
           '<triangle v1="0" v2="1" v3="99999999999"/></triangles></mesh></object>')
    return zip3mf({"_rels/.rels": RELS, "3D/3dmodel.model": model(obj, '<item objectid="1"/>')})


def threemf_huge_coordinates() -> bytes:
    """Issue 16 item 6 in 3MF: coordinates near 1e151."""
    return zip3mf({"_rels/.rels": RELS, "3D/3dmodel.model": model(
        f'<object id="1" type="model">{mesh_xml(tetra() * 1e150)}</object>', '<item objectid="1"/>')})


def _member_offset(data: bytes, marker: bytes = b"3D/3dmodel.model") -> int:
    return data.index(marker) + len(marker)


def threemf_corrupt_deflate() -> bytes:
    """The model member's deflate stream overwritten (zlib error on inflate)."""
    data = bytearray(good_3mf())
    start = _member_offset(bytes(data))
    data[start:start + 40] = b"\xff" * 40
    return bytes(data)


def threemf_negative_offset() -> bytes:
    """A central-directory entry whose local header offset points before the file (negative seek)."""
    data = bytearray(good_3mf())
    cd = data.rindex(b"PK\x01\x02")
    data[cd + 42:cd + 46] = struct.pack("<I", 0xFFFFFF00)
    return bytes(data)


def threemf_eocd_offset() -> bytes:
    """The end record's central-directory offset beyond the file (a negative seek inside zipfile)."""
    data = bytearray(good_3mf())
    eocd = data.rindex(b"PK\x05\x06")
    data[eocd + 16:eocd + 20] = struct.pack("<I", 0x7FFFFFFF)
    return bytes(data)


def threemf_truncated() -> bytes:
    """The package cut in half."""
    data = good_3mf()
    return data[: len(data) // 2]


def threemf_bad_crc() -> bytes:
    """A stored (uncompressed) model whose bytes no longer match the CRC."""
    data = bytearray(zip3mf({"_rels/.rels": RELS, "3D/3dmodel.model": model(
        f'<object id="1" type="model">{mesh_xml(tetra())}</object>', '<item objectid="1"/>')},
        compression=zipfile.ZIP_STORED))
    i = data.index(b"<vertex")
    data[i + 1:i + 7] = b"VERTEX"
    return bytes(data)


# ---------------------------------------------------------------- the corpus

CASES: tuple[Case, ...] = (
    Case("stl_ok", "ok.stl", lambda: ascii_stl(tetra()), None),
    Case("stl_blank_lines_20k", "blank20k.stl", lambda: stl_blank_lines(20_000), None),
    Case("stl_blank_lines_80k", "blank80k.stl", lambda: stl_blank_lines(80_000), None),
    Case("stl_blank_lines_1m", "blank1m.stl", lambda: stl_blank_lines(1_000_000), None),
    Case("stl_blank_lines_no_endsolid", "open.stl", lambda: stl_blank_lines_in_solid(80_000), None),
    Case("stl_solid_words_50k", "words.stl", lambda: stl_many_solid_words(50_000), None),
    Case("stl_coords_1e151", "huge.stl", lambda: stl_huge_coordinates(1e151), "limit.coordinates", 413),
    Case("stl_coords_1e300_inch", "huge_inch.stl", lambda: stl_huge_coordinates(1e307), "limit.coordinates", 413),
    Case("stl_binary_coords_3e38", "huge_bin.stl", lambda: binary_stl(tetra() * 3e37), "limit.coordinates", 413),
    Case("stl_nan", "nan.stl", lambda: ascii_stl(tetra()).replace(b"10.0", b"nan", 1), "mesh.nonfinite", 422),
    Case("stl_binary_declares_too_many", "lie.stl", lambda: binary_stl(tetra(), declared=2**32 - 1),
         "mesh.truncated", 422),
    Case("stl_binary_300mb", "many.stl", lambda: binary_stl(tetra(), declared=6_000_000)[:84]
         + b"\0" * (50 * 6_000_000), "limit.file_size", 413, heavy=True),
    Case("stl_not_a_number", "nan_word.stl", lambda: ascii_stl(tetra()).replace(b"10.0", b"1e9999x", 1),
         "mesh.malformed", 422),
    Case("stl_garbage", "garbage.stl", lambda: b"\x00\x01garbage" * 3, "mesh.format", 422),
    Case("stl_empty_solid", "empty.stl", lambda: b"solid x\nendsolid x\n", "mesh.empty", 422),
    Case("3mf_ok", "ok.3mf", good_3mf, None),
    Case("3mf_fanout_4_pow_16", "fanout.3mf", threemf_fanout, "limit.3mf_instances", 413),
    Case("3mf_fanout_no_mesh", "fanout_empty.3mf", lambda: threemf_fanout(leaf_mesh=False),
         "limit.3mf_instances", 413),
    Case("3mf_fanout_wide", "wide.3mf", lambda: threemf_fanout(levels=3, fanout=400), "limit.3mf_instances", 413),
    Case("3mf_cycle", "cycle.3mf", threemf_cycle, "3mf.malformed", 422),
    Case("3mf_unused_vertices_8mib", "unused8.3mf", lambda: threemf_unused_vertices(8), None),
    Case("3mf_unused_vertices_100mib", "unused100.3mf", lambda: threemf_unused_vertices(102.8), None, heavy=True),
    Case("3mf_zip_bomb", "bomb.3mf", threemf_bomb, "limit.3mf_ratio", 413),
    Case("3mf_billion_laughs", "laughs.3mf", threemf_billion_laughs, "3mf.malformed", 422),
    Case("3mf_xxe", "xxe.3mf", threemf_xxe, "3mf.malformed", 422),
    Case("3mf_deep_xml", "deep.3mf", threemf_deep_xml, "mesh.empty", 422),
    Case("3mf_eocd_offset", "eocd.3mf", threemf_eocd_offset, "3mf.malformed", 422),
    Case("3mf_bad_index", "index.3mf", threemf_bad_index, "3mf.malformed", 422),
    Case("3mf_coords_1e151", "huge.3mf", threemf_huge_coordinates, "limit.coordinates", 413),
    Case("3mf_corrupt_deflate", "deflate.3mf", threemf_corrupt_deflate, "3mf.malformed", 422),
    Case("3mf_negative_offset", "seek.3mf", threemf_negative_offset, "3mf.malformed", 422),
    Case("3mf_truncated", "cut.3mf", threemf_truncated, "3mf.malformed", 422),
    Case("3mf_bad_crc", "crc.3mf", threemf_bad_crc, "3mf.malformed", 422),
    Case("3mf_not_a_zip", "plain.3mf", lambda: b"PK\x03\x04 not really a zip", "3mf.malformed", 422),
    Case("unsupported_extension", "part.exe", lambda: b"MZ\x90\x00", "upload.file_type", 415),
)
#: The slowest file of the corpus for the server (about 10 s of analysis; what `/health` must survive).
WORST = "3mf_unused_vertices_100mib"


def case(case_id: str) -> Case:
    """The corpus case `case_id`."""
    return next(c for c in CASES if c.id == case_id)
