"""Files attached to RFQs, messages and claims (PDF drawings, photos, STEP/STL/3MF models): recognised by their
leading bytes, at most MAX_FILE_BYTES, stored encrypted like designs (AES-256-GCM under a random per-file key
wrapped by the master key, the file id as associated data). Who may read one is decided by the caller's service.

Depends on services.designs (master key, seal), the store and the domain; never on api, web or cli.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.keywrap import aes_key_wrap

from fabgrid.config import Settings
from fabgrid.domain.rfq import StoredFile
from fabgrid.errors import InputError, LimitError, NotFoundError
from fabgrid.services import designs
from fabgrid.services._util import new_id, now
from fabgrid.services.accounts import Principal
from fabgrid.store.uow import UnitOfWork

#: The largest attachment accepted (bytes).
MAX_FILE_BYTES = 25 * 1024 * 1024
MAGIC = b"FGA1"
#: (leading bytes, media type, file name endings it may carry)
_KINDS = ((b"%PDF-", "application/pdf", (".pdf",)), (b"\x89PNG\r\n\x1a\n", "image/png", (".png",)),
          (b"\xff\xd8\xff", "image/jpeg", (".jpg", ".jpeg")), (b"ISO-10303-21", "model/step", (".step", ".stp")),
          (b"PK\x03\x04", "model/3mf", (".3mf",)))
ACCEPTED = "PDF, PNG, JPEG, STEP, STL or 3MF"


@dataclass(frozen=True)
class FileData:
    """A decrypted attachment."""

    file: StoredFile
    data: bytes


def _is_stl(data: bytes) -> bool:
    if data[:5].lower() == b"solid" and b"facet" in data[:4096]:
        return True
    return len(data) >= 84 and len(data) == 84 + 50 * int.from_bytes(data[80:84], "little")


def media_type(filename: str, data: bytes) -> str:
    """The media type from the leading bytes; 415 naming what the name promised when the bytes disagree."""
    name = filename.lower()
    for head, media, ends in _KINDS:
        if name.endswith(ends) and not data.startswith(head):
            what = "a PDF" if media == "application/pdf" else f"a {ends[0].lstrip('.').upper()} file"
            raise InputError(f"{filename!r} is not {what}: it does not start with {head[:8]!r}",
                             hint=f"export the drawing again as {what}", code="file.type_mismatch", status=415)
    found = next((m for head, m, _ in _KINDS if data.startswith(head)), None)
    if found == "model/3mf" and not name.endswith(".3mf"):
        found = None  # a zip is a 3MF model only by name (Office files and archives are zips too)
    if found is None and (name.endswith(".stl") or _is_stl(data)):
        if not _is_stl(data):
            raise InputError(f"{filename!r} is not an STL file", code="file.type_mismatch", status=415)
        found = "model/stl"
    if found is None:
        raise InputError(f"{filename!r} is not a {ACCEPTED} file", hint=f"attach a {ACCEPTED} file",
                         code="file.type", status=415)
    return found


def check_size(size: int) -> None:
    """413 above MAX_FILE_BYTES."""
    if size > MAX_FILE_BYTES:
        raise LimitError(f"the file has more than {MAX_FILE_BYTES} bytes ({MAX_FILE_BYTES // (1024 * 1024)} MiB), "
                         "the most an attachment may have", hint="reduce the scan resolution or split the drawing",
                         code="file.size")


def upload(settings: Settings, who: Principal, filename: str, data: bytes) -> StoredFile:
    """Store an attachment of the caller's organisation, encrypted."""
    check_size(len(data))
    if not data:
        raise InputError("the file is empty", code="file.empty")
    media = media_type(filename, data)
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in filename)[:200] or "file"
    f = StoredFile(id=new_id("fil"), organisation_id=who.organisation_id, user_id=who.user_id, filename=safe,
                   media_type=media, size_bytes=len(data), sha256=hashlib.sha256(data).hexdigest(), created_at=now())
    master = designs.master_key(settings)
    data_key = os.urandom(32)
    folder = settings.data_dir / "attachments" / f.id[-2:]
    folder.mkdir(parents=True, exist_ok=True)
    path, tmp = folder / f"{f.id}.fga", folder / f".{f.id}.tmp"
    tmp.write_bytes(MAGIC + designs.seal(data_key, data, f.id.encode()))
    try:
        with UnitOfWork(settings.database_url) as uow:
            uow.rfq.add_file(f, str(path.relative_to(settings.data_dir)), aes_key_wrap(master, data_key),
                             designs.key_id(master))
            tmp.replace(path)
            uow.commit()
    except BaseException:
        tmp.unlink(missing_ok=True)
        path.unlink(missing_ok=True)
        raise
    return f


def stored(uow: UnitOfWork, file_id: str) -> StoredFile:
    """An attachment's record (any organisation; callers check access)."""
    found = uow.rfq.file(file_id)
    if found is None:
        raise NotFoundError(f"file {file_id!r} not found", code="file.not_found")
    return found[0]


def own_file(uow: UnitOfWork, who: Principal, file_id: str) -> StoredFile:
    """An attachment of the caller's organisation, else 404."""
    f = uow.rfq.file(file_id)
    if f is None or f[0].organisation_id != who.organisation_id:
        raise NotFoundError(f"file {file_id!r} not found", hint="POST /api/v1/files uploads one",
                            code="file.not_found")
    return f[0]


def download_own(settings: Settings, who: Principal, file_id: str) -> FileData:
    """An attachment of the caller's organisation, decrypted (another organisation's: 404)."""
    with UnitOfWork(settings.database_url) as uow:
        own_file(uow, who, file_id)
        return read(settings, uow, file_id)


def read(settings: Settings, uow: UnitOfWork, file_id: str) -> FileData:
    """Decrypt an attachment (checks its integrity)."""
    found = uow.rfq.file(file_id)
    if found is None:
        raise NotFoundError(f"file {file_id!r} not found", code="file.not_found")
    f, path, wrapped, kid = found
    data_key = designs.unwrap(designs.master_key(settings), wrapped, kid, f"file {file_id}")
    sealed = (settings.data_dir / Path(path)).read_bytes()
    if not sealed.startswith(MAGIC):
        raise InputError(f"file {file_id} is damaged on disk", code="file.corrupt", status=500)
    return FileData(f, designs.unseal(data_key, sealed[len(MAGIC):], file_id.encode()))
