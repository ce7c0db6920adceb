"""An application's documents (business licence, certificate scans): PDF, PNG or JPEG up to 10 MiB, stored
encrypted like designs (AES-256-GCM under a random per-file key wrapped by the master key, the document id as
associated data), readable by the applying organisation and the park's operator; every read is audited.

Depends on services.designs (master key, seal), the store and the domain; never on api, web or cli.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.keywrap import aes_key_wrap

from fabgrid.config import Settings
from fabgrid.domain.factory import ApplicationStatus, DocumentKind, FactoryApplication, FactoryDocument
from fabgrid.errors import InputError, LimitError, NotFoundError
from fabgrid.services import access, designs
from fabgrid.services.accounts import Principal
from fabgrid.store.uow import UnitOfWork

#: The largest document accepted (bytes) and the most documents per application.
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
MAX_DOCUMENTS = 20
#: Accepted formats by their leading bytes.
MEDIA_TYPES = ((b"%PDF-", "application/pdf"), (b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"))
MAGIC = b"FGF1"


@dataclass(frozen=True)
class DocumentFile:
    """A decrypted document."""

    document: FactoryDocument
    data: bytes


def _visible(uow: UnitOfWork, who: Principal, app_id: str) -> FactoryApplication:
    app = uow.factories.application(app_id)
    mine = app is not None and who.role == "factory" and app.organisation_id == who.organisation_id
    if app is None or not (mine or access.allows(who, ("operator",))):
        raise NotFoundError(f"application {app_id!r} does not exist", code="factory.application")
    return app


def add_document(settings: Settings, who: Principal, app_id: str, kind: str, filename: str,
                 data: bytes) -> FactoryDocument:
    """Attach a document to the caller's pending application."""
    try:
        doc_kind = DocumentKind(kind)
    except ValueError:
        raise InputError(f"kind {kind!r} is not a document kind", hint=", ".join(k.value for k in DocumentKind),
                         code="factory.document_kind") from None
    if not data:
        raise InputError("the document is empty", code="factory.document")
    if len(data) > MAX_DOCUMENT_BYTES:
        raise LimitError(f"the document has {len(data)} bytes; at most {MAX_DOCUMENT_BYTES} are accepted",
                         hint="scan at a lower resolution", code="factory.document_size")
    media = next((m for head, m in MEDIA_TYPES if data.startswith(head)), None)
    if media is None:
        raise InputError(f"{filename!r} is not a PDF, PNG or JPEG file", hint="upload a PDF or a photo",
                         code="factory.document_type", status=415)
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in filename)[:200] or "document"
    with UnitOfWork(settings.database_url) as uow:
        app = _visible(uow, who, app_id)
        if who.role != "factory":
            raise InputError("only the applying organisation adds documents", code="factory.document", status=403)
        if app.status is not ApplicationStatus.PENDING:
            raise InputError(f"application {app_id} was {app.status.value} already", code="factory.decided", status=409)
        if len(uow.factories.documents(app_id)) >= MAX_DOCUMENTS:
            raise LimitError(f"an application has at most {MAX_DOCUMENTS} documents", code="factory.documents")
        doc = FactoryDocument(id="fdc_" + secrets.token_hex(8), application_id=app_id, kind=doc_kind, filename=safe,
                              media_type=media, size_bytes=len(data), sha256=hashlib.sha256(data).hexdigest(),
                              created_at=datetime.now(UTC))
        master = designs.master_key(settings)
        data_key = os.urandom(32)
        folder = settings.data_dir / "factory-documents"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{doc.id}.fgf"
        tmp = folder / f".{doc.id}.tmp"
        tmp.write_bytes(MAGIC + designs.seal(data_key, data, doc.id.encode()))
        tmp.replace(path)
        uow.factories.add_document(doc, str(path), aes_key_wrap(master, data_key), designs.key_id(master), who.user_id)
        uow.factories.log("document", actor_user_id=who.user_id, application_id=app_id,
                          doc={"document": doc.id, "kind": doc.kind.value, "sha256": doc.sha256})
        uow.commit()
        return doc


def documents(settings: Settings, who: Principal, app_id: str) -> list[FactoryDocument]:
    """An application's documents (the applicant's organisation or the operator)."""
    with UnitOfWork(settings.database_url) as uow:
        _visible(uow, who, app_id)
        return uow.factories.documents(app_id)


def read_document(settings: Settings, who: Principal, app_id: str, doc_id: str) -> DocumentFile:
    """One document, decrypted; the read is audited."""
    with UnitOfWork(settings.database_url) as uow:
        _visible(uow, who, app_id)
        found = uow.factories.document_file(doc_id)
        if found is None or found[0].application_id != app_id:
            raise NotFoundError(f"document {doc_id!r} does not exist", code="factory.document")
        doc, path, wrapped, kid = found
        data_key = designs.unwrap(designs.master_key(settings), wrapped, kid, f"document {doc_id}")
        sealed = Path(path).read_bytes()
        if not sealed.startswith(MAGIC):
            raise InputError(f"document {doc_id} is damaged on disk", code="factory.document", status=500)
        data = designs.unseal(data_key, sealed[len(MAGIC):], doc_id.encode())
        uow.factories.log("document_read", actor_user_id=who.user_id, application_id=app_id, doc={"document": doc_id})
        uow.commit()
        return DocumentFile(doc, data)
