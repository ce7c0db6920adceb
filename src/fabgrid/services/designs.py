"""Design files at rest and who may read them: AES-256-GCM per file with a random key wrapped (RFC 3394
AES key wrap) by the master key, factory access only with held work and the owner's consent, an audit log.

File layout under ``data_dir/designs``: ``b"FGD1" | nonce (12) | ciphertext | GCM tag (16)``, the part id
as associated data. The master key comes from FABGRID_MASTER_KEY (base64 of 32 bytes) or, for the
embedded default, from ``data_dir/master.key`` (generated once, mode 0600). Depends on cryptography + store.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from fabgrid.config import Settings
from fabgrid.domain.order import Order, OrderLine, OrderStatus
from fabgrid.domain.records import DesignAccess, StoredPart
from fabgrid.errors import InputError, NotFoundError
from fabgrid.services.accounts import Principal
from fabgrid.store.uow import UnitOfWork

MAGIC = b"FGD1"
NONCE_BYTES = 12
TAG_BYTES = 16
CHUNK_BYTES = 1 << 20
#: Order statuses during which the allocated site holds work on the part (may read the design).
WORK_HELD = frozenset({OrderStatus.ALLOCATED, OrderStatus.IN_PRODUCTION, OrderStatus.BUILT})


def _master_key_error(msg: str) -> InputError:
    return InputError(msg, hint="FABGRID_MASTER_KEY must be the base64 of 32 random bytes, e.g. "
                      "`python -c 'import os,base64;print(base64.b64encode(os.urandom(32)).decode())'`",
                      code="design.master_key", status=500)


def master_key(settings: Settings) -> bytes:
    """The 32-byte master key: FABGRID_MASTER_KEY (`settings.master_key`), else ``data_dir/master.key``
    (created once, 0600)."""
    env = settings.master_key
    if env:
        try:
            key = base64.b64decode(env, validate=True)
        except (binascii.Error, ValueError):
            raise _master_key_error("FABGRID_MASTER_KEY is not valid base64") from None
        if len(key) != 32:
            raise _master_key_error(f"FABGRID_MASTER_KEY decodes to {len(key)} bytes, not 32")
        return key
    path = settings.data_dir / "master.key"
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        tmp = settings.data_dir / f".master.key.{secrets.token_hex(6)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(base64.b64encode(os.urandom(32)) + b"\n")
        try:
            os.link(tmp, path)  # atomic: the first process to link wins, the others read its key
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    try:
        key = base64.b64decode(path.read_bytes().strip(), validate=True)
    except (binascii.Error, ValueError):
        raise _master_key_error(f"{path} does not hold a base64 key") from None
    if len(key) != 32:
        raise _master_key_error(f"{path} holds {len(key)} bytes, not 32")
    return key


def key_id(master: bytes) -> str:
    """A short fingerprint of the master key, stored with each wrapped key (tells a wrong key apart)."""
    return hashlib.sha256(b"fabgrid-master-key" + master).hexdigest()[:16]


def unwrap(master: bytes, wrapped: bytes, stored_key_id: str, what: str) -> bytes:
    """Unwrap a per-file key; a clear InputError when the master key is not the one it was wrapped with."""
    if key_id(master) != stored_key_id:
        raise _master_key_error(f"{what} was encrypted under master key {stored_key_id}, but the configured "
                                f"master key is {key_id(master)}: set FABGRID_MASTER_KEY to the original key")
    try:
        return aes_key_unwrap(master, wrapped)
    except InvalidUnwrap:
        raise _master_key_error(f"the key of {what} cannot be unwrapped with the configured master key") from None


def seal(master: bytes, plaintext: bytes, aad: bytes = b"") -> bytes:
    """Encrypt a small secret (webhook secrets) with AES-256-GCM under the master key: nonce | ct | tag."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(master).encrypt(nonce, plaintext, aad)


def unseal(master: bytes, sealed: bytes, aad: bytes = b"") -> bytes:
    """Decrypt what `seal` produced; InputError when the master key is wrong."""
    try:
        return AESGCM(master).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)
    except InvalidTag:
        raise _master_key_error("a stored secret cannot be decrypted with the configured master key") from None


class EncryptedWriter:
    """Streams a design into an encrypted file, counting bytes and hashing the plaintext.

    ``write(chunk)`` as the upload arrives; ``close()`` writes the tag; ``abort()`` removes the file.
    Memory use is one chunk, whatever the file size.
    """

    def __init__(self, settings: Settings, part_id: str) -> None:
        self.master = master_key(settings)
        self.part_id = part_id
        self.data_key = AESGCM.generate_key(bit_length=256)
        self.wrapped_key = aes_key_wrap(self.master, self.data_key)
        self.key_id = key_id(self.master)
        self.rel_path = f"designs/{part_id[-2:]}/{part_id}.fgd"
        self.path = settings.data_dir / self.rel_path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        nonce = os.urandom(NONCE_BYTES)
        self._enc: CipherContext = Cipher(algorithms.AES(self.data_key), modes.GCM(nonce)).encryptor()
        self._enc.authenticate_additional_data(part_id.encode())  # type: ignore[attr-defined]
        self._fh = open(self.path, "wb")  # noqa: SIM115 - closed in close()/abort()
        self._fh.write(MAGIC + nonce)
        self._sha = hashlib.sha256()
        self.size_bytes = 0

    def write(self, chunk: bytes) -> None:
        """Encrypt and append a chunk of plaintext."""
        self.size_bytes += len(chunk)
        self._sha.update(chunk)
        self._fh.write(self._enc.update(chunk))

    @property
    def sha256(self) -> str:
        """SHA-256 of the plaintext written so far."""
        return self._sha.hexdigest()

    def close(self) -> None:
        """Finish the encryption (writes the tag) and close the file."""
        self._fh.write(self._enc.finalize())
        self._fh.write(self._enc.tag)  # type: ignore[attr-defined]
        self._fh.close()

    def abort(self) -> None:
        """Close and delete the partial file."""
        self._fh.close()
        self.path.unlink(missing_ok=True)


def read_design(settings: Settings, part: StoredPart) -> bytes:
    """Decrypt a stored design (checks the tag: a modified file or a wrong key is an error)."""
    data_key = unwrap(master_key(settings), part.wrapped_key, part.key_id, f"design {part.id}")
    return b"".join(_decrypt_chunks(settings.data_dir / part.storage_path, data_key, part.id))


def _decrypt_chunks(path: Path, data_key: bytes, part_id: str) -> Iterator[bytes]:
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(len(MAGIC) + NONCE_BYTES)
        if head[:len(MAGIC)] != MAGIC or size < len(head) + TAG_BYTES:
            raise InputError(f"stored design {part_id} is not an fabgrid encrypted file", code="design.corrupt",
                             status=500)
        fh.seek(size - TAG_BYTES)
        tag = fh.read(TAG_BYTES)
        fh.seek(len(head))
        dec = Cipher(algorithms.AES(data_key), modes.GCM(head[len(MAGIC):], tag)).decryptor()
        dec.authenticate_additional_data(part_id.encode())  # type: ignore[attr-defined]
        left = size - len(head) - TAG_BYTES
        while left > 0:
            chunk = fh.read(min(CHUNK_BYTES, left))
            left -= len(chunk)
            yield dec.update(chunk)
        try:
            yield dec.finalize()
        except InvalidTag:
            raise InputError(f"stored design {part_id} failed its integrity check (modified or wrong key)",
                             code="design.integrity", status=500) from None


# ---------------------------------------------------------------- access rules and audit


@dataclass(frozen=True)
class DesignFile:
    """A decrypted design handed to an authorised reader."""

    part_id: str
    filename: str
    data: bytes


def _audit(uow: UnitOfWork, part: StoredPart, who: Principal, action: str, allowed: bool, reason: str,
           order_id: str | None = None) -> None:
    uow.audit.add(part.id, actor_user_id=who.user_id, actor_email=who.email, actor_organisation=who.organisation,
                  actor_site_id=who.site_id, action=action, allowed=allowed, reason=reason, order_id=order_id)


def owner_part(uow: UnitOfWork, who: Principal, part_id: str) -> StoredPart:
    """The caller's organisation's part, or NotFoundError (another organisation's part is 'not found')."""
    part = uow.parts.get(part_id, who.organisation_id)
    if part is None:
        raise NotFoundError(f"part {part_id!r} not found", hint="GET /api/v1/parts lists your parts",
                            code="part.not_found")
    return part


def record_owner_access(settings: Settings, who: Principal, part_id: str, action: str) -> StoredPart:
    """Check ownership and log an owner's access to the design (download, mesh view)."""
    with UnitOfWork(settings.database_url) as uow:
        part = owner_part(uow, who, part_id)
        _audit(uow, part, who, action, True, "owner")
        uow.commit()
        return part


def owner_download(settings: Settings, who: Principal, part_id: str) -> DesignFile:
    """The original design file for its owner's organisation (logged)."""
    part = record_owner_access(settings, who, part_id, "owner_download")
    return DesignFile(part.id, part.filename, read_design(settings, part))


def factory_download(settings: Settings, who: Principal, part_id: str) -> DesignFile:
    """The design for a factory that holds work on it (allocated .. built) where the owner consented.

    Every attempt is logged. A factory that never had an order of the part gets 404 (the part's
    existence is not disclosed); one that had but does not now, or without consent, gets 403.
    """
    denied: InputError | None = None
    with UnitOfWork(settings.database_url) as uow:
        part = uow.parts.get(part_id, None)
        if part is None:
            raise NotFoundError(f"part {part_id!r} not found", code="part.not_found")
        found: list[Order] = (uow.orders.find(site_id=who.site_id, part_id=part_id)
                              if who.role == "factory" and who.site_id else [])
        held: list[tuple[Order, OrderLine]] = [(o, ln) for o in found for ln in o.lines
                                               if ln.site_id == who.site_id and ln.part_id == part_id]
        holding = [(o, ln) for o, ln in held if ln.status in WORK_HELD]
        granted = [(o, ln) for o, ln in holding if o.consent_design_sharing]
        if granted:
            o, ln = granted[0]
            _audit(uow, part, who, "factory_download", True,
                   f"site {who.site_id} holds order {o.id} ({ln.status.value}); owner consented", o.id)
        else:
            if not held:
                reason = f"site {who.site_id} has no order of this part"
                denied = NotFoundError(f"part {part_id!r} not found", code="part.not_found")
            elif not holding:
                reason = f"site {who.site_id} holds no open work on this part"
                denied = InputError(f"your site holds no open work on part {part_id}", code="design.no_work",
                                    status=403)
            else:
                reason = "the owner did not consent to sharing the design"
                denied = InputError(f"the owner of part {part_id} did not consent to sharing the design",
                                    hint="ask the buyer to consent on the order", code="design.no_consent",
                                    status=403)
            _audit(uow, part, who, "factory_download", False, reason, holding[0][0].id if holding else None)
        uow.commit()
    if denied is not None:
        raise denied
    return DesignFile(part.id, part.filename, read_design(settings, part))


def audit_log(settings: Settings, who: Principal, part_id: str) -> list[DesignAccess]:
    """Every access to a design, for its owner's organisation, oldest first."""
    with UnitOfWork(settings.database_url) as uow:
        owner_part(uow, who, part_id)
        return uow.audit.for_part(part_id)


@dataclass(frozen=True)
class AuditView:
    """The design access log of an organisation: the entries (newest first) and the designs' file names."""

    entries: list[DesignAccess]
    filenames: dict[str, str]


#: Entries the organisation's access log page shows at most.
AUDIT_PAGE_LIMIT = 500


def organisation_audit(settings: Settings, who: Principal, part_id: str | None = None,
                       refused_only: bool = False) -> AuditView:
    """Who accessed which of the organisation's designs when (one design with `part_id`; only the refused attempts
    with `refused_only`), newest first, for the owner's organisation (another organisation's part is 404)."""
    with UnitOfWork(settings.database_url) as uow:
        if part_id is not None:
            owner_part(uow, who, part_id)
        entries = uow.audit.for_organisation(who.organisation_id, part_id, refused_only, AUDIT_PAGE_LIMIT)
        names = {p.id: p.filename for p in uow.parts.find(who.organisation_id, limit=10_000)}
        return AuditView(entries, names)
