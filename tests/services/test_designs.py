"""Designs at rest: AES-256-GCM per file under a wrapped key; the master key's life cycle and failure modes."""

from __future__ import annotations

import base64
import os
import stat
from dataclasses import replace

import pytest
import trimesh

from fabgrid.config import Settings, load_settings
from fabgrid.domain.records import StoredPart
from fabgrid.errors import InputError
from fabgrid.services import accounts, designs, parts
from fabgrid.store.uow import UnitOfWork


def _stored(settings: Settings, part_id: str) -> tuple[bytes, StoredPart]:
    with UnitOfWork(settings.database_url) as uow:
        row = uow.parts.get(part_id, None)
        assert row is not None
    return (settings.data_dir / row.storage_path).read_bytes(), row


def test_file_is_encrypted_and_round_trips(settings: Settings, buyer: accounts.Principal,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parts, "INLINE_ANALYSIS_MAX_BYTES", 0)  # store only; the job is not needed here
    monkeypatch.setattr("fabgrid.services.jobs.submit", lambda *a, **k: None)
    stl = trimesh.creation.icosphere(subdivisions=2).export(file_type="stl_ascii").encode()
    part, _job = parts.upload_bytes(settings, buyer, "sphere.stl", stl)
    raw, row = _stored(settings, part.id)
    assert raw.startswith(designs.MAGIC) and len(raw) == len(stl) + 4 + 12 + 16
    assert b"facet normal" not in raw and b"vertex" not in raw and stl[:200] not in raw
    assert designs.read_design(settings, row) == stl
    key_file = settings.data_dir / "master.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert row.wrapped_key != designs.master_key(settings)
    assert len(row.wrapped_key) == 40  # RFC 3394 wrap of a 32-byte key


def test_wrong_master_key_and_tampering_are_clear_errors(settings: Settings, buyer: accounts.Principal,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parts, "INLINE_ANALYSIS_MAX_BYTES", 0)
    monkeypatch.setattr("fabgrid.services.jobs.submit", lambda *a, **k: None)
    part, _ = parts.upload_bytes(settings, buyer, "box.stl", trimesh.creation.box().export(file_type="stl"))
    raw, row = _stored(settings, part.id)
    other_key = replace(settings, master_key=base64.b64encode(os.urandom(32)).decode())
    with pytest.raises(InputError) as err:
        designs.read_design(other_key, row)
    assert err.value.code == "design.master_key" and "FABGRID_MASTER_KEY" in err.value.message
    with pytest.raises(InputError, match="not valid base64"):
        designs.master_key(replace(settings, master_key="not base64!"))
    with pytest.raises(InputError, match="not 32"):
        designs.master_key(replace(settings, master_key=base64.b64encode(b"short").decode()))
    for bad, why in (("not base64!", "not valid base64"), (base64.b64encode(b"short").decode(), "not 32")):
        monkeypatch.setenv("FABGRID_MASTER_KEY", bad)  # refused when the settings are read, naming the variable
        with pytest.raises(InputError, match=why) as err:
            load_settings()
        assert err.value.code == "config.master_key" and "FABGRID_MASTER_KEY" in err.value.message
    monkeypatch.delenv("FABGRID_MASTER_KEY")
    path = settings.data_dir / row.storage_path
    flipped = bytearray(raw)
    flipped[30] ^= 1
    path.write_bytes(bytes(flipped))
    with pytest.raises(InputError) as err:
        designs.read_design(settings, row)  # type: ignore[arg-type]
    assert err.value.code == "design.integrity"


def test_env_master_key_is_used(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    key = os.urandom(32)
    monkeypatch.setenv("FABGRID_MASTER_KEY", base64.b64encode(key).decode())
    settings = replace(settings, master_key=load_settings().master_key)
    assert designs.master_key(settings) == key
    assert not (settings.data_dir / "master.key").exists()
    sealed = designs.seal(key, b"webhook secret", b"whk_1")
    assert b"webhook secret" not in sealed and designs.unseal(key, sealed, b"whk_1") == b"webhook secret"
    with pytest.raises(InputError):
        designs.unseal(key, sealed, b"whk_2")  # bound to its webhook id


def test_generated_key_is_stable(settings: Settings) -> None:
    assert designs.master_key(settings) == designs.master_key(settings)
    assert len(designs.master_key(settings)) == 32
