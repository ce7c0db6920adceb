"""Readers: JSPLIB / OR-Library text and Brandimarte .fjs, good files and bad ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from fabgrid.errors import InputError
from fabgrid.scheduling.readers import parse_fjs, parse_jsplib, read_instance


def test_jsplib_ft06(ft06_text: str) -> None:
    p = parse_jsplib(ft06_text, "ft06")
    assert len(p.jobs) == 6 and len(p.resources) == 6
    first = p.jobs[0].operations[0].alternatives
    assert [(a.resource, a.duration) for a in first] == [(2, 1)]
    last = p.jobs[5].operations[5].alternatives[0]
    assert (last.resource, last.duration) == (2, 1)
    # every job visits every machine once
    for job in p.jobs:
        assert sorted(op.alternatives[0].resource for op in job.operations) == list(range(6))
    assert sum(a.duration for j in p.jobs for op in j.operations for a in op.alternatives) == 197


def test_jsplib_tolerates_comments_and_blank_lines() -> None:
    p = parse_jsplib("# header\n\n2 2\n0 3 1 2  # job 0\n# between\n1 4 0 1\n")
    assert [[(o.alternatives[0].resource, o.alternatives[0].duration) for o in j.operations] for j in p.jobs] \
        == [[(0, 3), (1, 2)], [(1, 4), (0, 1)]]


@pytest.mark.parametrize(("text", "needle"), [
    ("", "no data"),
    ("2\n0 1 1 1\n", "first line"),
    ("2 2\n0 3 1 2\n", "announces 2 jobs"),
    ("1 2\n0 3 1\n", "expected 2"),
    ("1 2\n0 3 2 2\n", "machine 2 is outside"),
    ("1 2\n0 3 x 2\n", "'x'"),
    ("1 2\n0 3 1 -2\n", "negative"),
    ("1 2\n0 3 1 2\n0 1 1 1\n", "more lines"),
])
def test_jsplib_bad_input(text: str, needle: str) -> None:
    with pytest.raises(InputError) as exc:
        parse_jsplib(text, "bad.txt")
    assert needle in exc.value.message
    assert exc.value.message.startswith("bad.txt")
    assert exc.value.hint and "jobs machines" in exc.value.hint


def test_fjs_parse_renumbers_machines(fjs_text: str) -> None:
    p = parse_fjs(fjs_text, "small.fjs")
    assert len(p.jobs) == 3 and len(p.resources) == 3
    assert [len(j.operations) for j in p.jobs] == [2, 3, 2]
    o = p.jobs[0].operations[0]
    assert [(a.resource, a.duration) for a in o.alternatives] == [(0, 3), (1, 5)]
    assert [(a.resource, a.duration) for a in p.jobs[1].operations[2].alternatives] == [(0, 2), (1, 3)]


@pytest.mark.parametrize(("text", "needle"), [
    ("1 2\n1 1 3 5\n", "machine 3 is outside"),
    ("1 2\n1 2 1 5\n", "ends inside an operation"),
    ("1 2\n1 1 1 5 7\n", "numbers left"),
    ("1 2\n0\n", "at least one operation"),
    ("1 2\n1 2 1 5 1 6\n", "one machine twice"),
    ("2 2\n1 1 1 5\n", "announces 2 jobs"),
])
def test_fjs_bad_input(text: str, needle: str) -> None:
    with pytest.raises(InputError) as exc:
        parse_fjs(text, "bad.fjs")
    assert needle in exc.value.message


def test_read_instance_files(tmp_path: Path, ft06_text: str) -> None:
    f = tmp_path / "ft06.txt"
    f.write_text(ft06_text)
    assert len(read_instance(f, "jsplib").jobs) == 6
    with pytest.raises(InputError, match="unknown instance format"):
        read_instance(f, "taillard")
    with pytest.raises(InputError, match="no such file"):
        read_instance(tmp_path / "missing.txt", "jsplib")
    b = tmp_path / "binary.txt"
    b.write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(InputError, match="not a text file"):
        read_instance(b, "jsplib")
