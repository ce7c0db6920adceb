"""Byte-mutation fuzzing of part intake (issue 16 item 6: 411 of 4,000 mutated 3MF zips raised BadZipFile,
negative seeks or zlib errors). Mutated STL (ASCII and binary), 3MF zips (stored and deflated) and 3MF model XML
(mutated, then zipped correctly) each end in a part or an InputError, never another exception, within seconds.

A bounded run in the normal test run (FABGRID_FUZZ_EXAMPLES, default 400 per target: 2,400 files in about 20 s);
`make fuzz` runs 5,000 per target.
"""

from __future__ import annotations

import os
import time
import zipfile

import pytest
from hostile_corpus import RELS, ascii_stl, binary_stl, mesh_xml, model, tetra, threemf_fanout, zip3mf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fabgrid.errors import InputError
from fabgrid.services import analysis

EXAMPLES = int(os.environ.get("FABGRID_FUZZ_EXAMPLES", "400"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=EXAMPLES <= 400,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

_XML = model(f'<object id="1" type="model" name="t">{mesh_xml(tetra())}</object>'
             '<object id="2" type="model"><components><component objectid="1" transform="1 0 0 0 1 0 0 0 1 5 0 0"/>'
             '</components></object>', '<item objectid="2"/><item objectid="1" transform="1 0 0 0 1 0 0 0 1 0 9 0"/>')
SEEDS = {
    "stl_ascii": ascii_stl(tetra()),
    "stl_binary": binary_stl(tetra()),
    "3mf_deflated": zip3mf({"_rels/.rels": RELS, "3D/3dmodel.model": _XML}),
    "3mf_stored": zip3mf({"_rels/.rels": RELS, "3D/3dmodel.model": _XML}, compression=zipfile.ZIP_STORED),
    "3mf_fanout": threemf_fanout(levels=3, fanout=3),
}

_OP = st.tuples(st.sampled_from(["flip", "set", "insert", "delete", "repeat"]), st.floats(0, 1), st.integers(0, 255),
                st.integers(1, 64))


def mutate(data: bytes, ops: list[tuple[str, float, int, int]]) -> bytes:
    """Apply byte mutations: flip a bit, set a byte, insert / delete / repeat a run at a relative position."""
    b = bytearray(data)
    for op, where, value, n in ops:
        i = min(int(where * len(b)), max(len(b) - 1, 0))
        if not b:
            b.append(value)
        elif op == "flip":
            b[i] ^= 1 << (value % 8)
        elif op == "set":
            b[i] = value
        elif op == "insert":
            b[i:i] = bytes([value]) * n
        elif op == "delete":
            del b[i:i + n]
        else:
            b[i:i] = b[i:i + n] * (value % 8 + 1)
    return bytes(b)


def _intake(data: bytes, name: str) -> None:
    t = time.perf_counter()
    try:
        rep = analysis.analyze_file(data, name, thickness_samples=200)
        assert rep.triangles > 0
    except InputError as exc:
        assert exc.code and exc.message and 400 <= exc.status < 500, exc
    assert time.perf_counter() - t < 10.0


@pytest.mark.parametrize("seed", ["stl_ascii", "stl_binary"])
@FUZZ
@given(ops=st.lists(_OP, min_size=1, max_size=8))
def test_mutated_stl(seed: str, ops: list[tuple[str, float, int, int]]) -> None:
    _intake(mutate(SEEDS[seed], ops), "fuzz.stl")


@pytest.mark.parametrize("seed", ["3mf_deflated", "3mf_stored", "3mf_fanout"])
@FUZZ
@given(ops=st.lists(_OP, min_size=1, max_size=8))
def test_mutated_3mf_zip(seed: str, ops: list[tuple[str, float, int, int]]) -> None:
    _intake(mutate(SEEDS[seed], ops), "fuzz.3mf")


@FUZZ
@given(ops=st.lists(_OP, min_size=1, max_size=8))
def test_mutated_3mf_xml(ops: list[tuple[str, float, int, int]]) -> None:
    xml = mutate(_XML.encode(), ops)
    _intake(zip3mf({"_rels/.rels": RELS, "3D/3dmodel.model": xml}), "fuzz.3mf")
