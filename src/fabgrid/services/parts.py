"""Use cases of parts: streamed upload into an encrypted design file, DFM analysis (inline for small files,
a background job for large ones), reading facts and findings, the viewer mesh, listing.

Every read is scoped to the caller's organisation. Depends on the geometry engine (through
`services.analysis`), the store, `services.designs` and `services.jobs`; never on api/web/workers.
"""

from __future__ import annotations

import io
import logging
from pathlib import PurePath
from typing import Any

from fabgrid.config import Settings
from fabgrid.domain.geometry import PartReport
from fabgrid.domain.part import Part
from fabgrid.domain.records import Job, StoredPart
from fabgrid.errors import InputError
from fabgrid.geometry import limits
from fabgrid.geometry.repair import REPAIRABLE_CODES as REPAIRABLE
from fabgrid.services import designs, jobs, network
from fabgrid.services._util import new_id
from fabgrid.services.accounts import Principal
from fabgrid.services.formats import EXTENSIONS
from fabgrid.store.uow import UnitOfWork

log = logging.getLogger(__name__)

#: Files up to this size are analysed during the upload request (201 with the report); larger ones
#: are analysed by a background job (202 with the job to poll). 2 MiB is ~40,000 binary-STL triangles,
#: which part intake analyses in about a second. FABGRID_INLINE_ANALYSIS_MAX_BYTES overrides it.
INLINE_ANALYSIS_MAX_BYTES = 2 * 1024 * 1024


def inline_max_bytes(settings: Settings) -> int:
    """The inline-analysis threshold in force (FABGRID_INLINE_ANALYSIS_MAX_BYTES in `settings`, or the default)."""
    given = settings.inline_analysis_max_bytes
    return INLINE_ANALYSIS_MAX_BYTES if given is None else given


#: The largest part file accepted (bytes; `geometry.limits`), and its check (LimitError, 413).
MAX_FILE_BYTES = limits.MAX_FILE_BYTES
check_file_size = limits.check_file_size
UNITS = ("mm", "cm", "m", "inch", "in", "um")
#: Finding codes the automatic repair addresses (the part page offers to repair and analyse again).
REPAIRABLE_CODES = REPAIRABLE
MESH_FORMATS = {"glb": "model/gltf-binary", "stl": "model/stl"}


def check_filename(filename: str | None) -> str:
    """The base name of an uploaded file, checked for a supported extension."""
    name = PurePath((filename or "").replace("\\", "/")).name.strip()
    if not name:
        raise InputError("the upload has no file name", hint="send the part as the multipart field 'file' "
                         "with a filename", code="upload.filename")
    if len(name) > 200:
        raise InputError("the file name is longer than 200 characters", code="upload.filename")
    if PurePath(name).suffix.lower() not in EXTENSIONS:
        raise InputError(f"{name}: unsupported file type", hint=f"upload one of {', '.join(EXTENSIONS)}",
                         code="upload.file_type", status=415)
    return name


def check_units(units: str | None) -> str | None:
    """The unit override of an upload, if any."""
    if units is None or not units.strip():
        return None
    u = units.strip().lower()
    if u not in UNITS:
        raise InputError(f"units {units!r} is not known", hint=f"one of {', '.join(UNITS)}", code="upload.units")
    return u


class Upload:
    """A design arriving in chunks: size limit enforced on every chunk, encrypted as it is written."""

    def __init__(self, settings: Settings, who: Principal, filename: str, units: str | None) -> None:
        self.settings, self.who = settings, who
        self.filename = check_filename(filename)
        self.units = check_units(units)
        self.part_id = new_id("prt")
        self.writer = designs.EncryptedWriter(settings, self.part_id)
        self._inline_max = inline_max_bytes(settings)
        self._plain: io.BytesIO | None = io.BytesIO()  # kept only while small enough to analyse inline

    def write(self, chunk: bytes) -> None:
        """Append a chunk; LimitError (413) as soon as the file passes `limits.MAX_FILE_BYTES`."""
        limits.check_file_size(self.writer.size_bytes + len(chunk), self.filename)
        self.writer.write(chunk)
        if self._plain is not None:
            if self.writer.size_bytes <= self._inline_max:
                self._plain.write(chunk)
            else:
                self._plain = None

    def abort(self) -> None:
        """Drop the partial file."""
        self.writer.abort()

    def finish(self) -> tuple[StoredPart, Job | None]:
        """Store the part; analyse now (small) or queue a job (large). Returns (part, job or None)."""
        if self.writer.size_bytes == 0:
            self.abort()
            raise InputError(f"{self.filename}: the file is empty", hint="upload the exported part file",
                             code="mesh.empty")
        self.writer.close()
        inline = self._plain is not None
        with UnitOfWork(self.settings.database_url) as uow:
            part = uow.parts.add(self.part_id, organisation_id=self.who.organisation_id, user_id=self.who.user_id,
                                 filename=self.filename, units=self.units, size_bytes=self.writer.size_bytes,
                                 sha256=self.writer.sha256, storage_path=self.writer.rel_path,
                                 wrapped_key=self.writer.wrapped_key, key_id=self.writer.key_id,
                                 status="running" if inline else "queued")
            job = None
            if not inline:
                job = jobs.enqueue(uow, "analyze_part", {"part_id": part.id},
                                   organisation_id=self.who.organisation_id, user_id=self.who.user_id)
                uow.parts.set_status(part.id, "queued", job_id=job.id)
            uow.commit()
        if job is not None:
            jobs.submit(self.settings, job.id)
            return get_part(self.settings, self.who, self.part_id), job
        assert self._plain is not None
        analyze_part(self.settings, self.part_id, self._plain.getvalue())
        return get_part(self.settings, self.who, self.part_id), None


def upload_bytes(settings: Settings, who: Principal, filename: str, data: bytes,
                 units: str | None = None) -> tuple[StoredPart, Job | None]:
    """Upload a whole file at once (pages, CLI, tests): same checks as the streamed API upload."""
    up = Upload(settings, who, filename, units)
    try:
        for i in range(0, len(data), designs.CHUNK_BYTES):
            up.write(data[i:i + designs.CHUNK_BYTES])
    except BaseException:
        up.abort()
        raise
    return up.finish()


def analyze_part(settings: Settings, part_id: str, plaintext: bytes | None = None) -> StoredPart:
    """Run part intake on a stored design and keep the report (or the problem) on the part; the loaded
    part goes to the quote cache (`quotes_store.keep_prepared`), so the first quote does not load it again.
    Returns the part as analysed (`ready` with its report, or `failed` with the problem)."""
    from fabgrid.services.analysis import analyze_isolated

    with UnitOfWork(settings.database_url) as uow:
        part = uow.parts.get(part_id, None)
        if part is None:
            raise InputError(f"part {part_id} vanished before its analysis", code="part.not_found", status=404)
        uow.parts.set_status(part_id, "running")
        uow.commit()
        data = plaintext if plaintext is not None else designs.read_design(settings, part)
        filename, units, sha256 = part.filename, part.units, part.sha256
        catalog = network.current(uow).network.catalog  # the rules and machines of the stored network
    report: dict[str, Any] | None = None
    problem: dict[str, Any] | None = None
    loaded: Part | None = None
    try:  # an untrusted file: analysed in a child process with hard limits (services.analysis)
        analysed, loaded = analyze_isolated(data, filename=filename, units=units, catalog=catalog,
                                            auto_repair=True, guess_units=True)
        report = analysed.model_dump(mode="json")
    except InputError as exc:
        problem = _problem(exc)
    except Exception as exc:  # never leave the part `running`: it fails with the reason, the bug is logged
        log.exception("analysis of part %s failed", part_id)
        problem = _problem(InputError(f"{filename}: the analysis failed with an internal error "
                                      f"({type(exc).__name__})", hint="try again later", code="analysis.internal",
                                      status=500))
    with UnitOfWork(settings.database_url) as uow:
        uow.parts.set_analysis(part_id, report, problem)
        uow.commit()
        done = uow.parts.get(part_id, None)
    if report is not None and loaded is not None:
        _keep_for_quotes(part_id, sha256, units, loaded, analysed)
    assert done is not None
    return done


def change_units(settings: Settings, who: Principal, part_id: str, units: str) -> tuple[StoredPart, Job | None]:
    """Read a part's file in another unit (mm, cm, m, inch, um) and analyse it again: inline when the file is
    small enough, else as a background job (then the job is returned). The unit switch of the part page and
    `PATCH /api/v1/parts/{id}`; 409 while an analysis runs."""
    unit = check_units(units)
    if unit is None:
        raise InputError("units is missing", hint=f"one of {', '.join(UNITS)}", code="upload.units")
    return _analyse_again(settings, who, part_id, unit)


def analyse_again(settings: Settings, who: Principal, part_id: str) -> tuple[StoredPart, Job | None]:
    """Analyse a part again in its unit, with the automatic repair (a part analysed before it existed, or after
    the catalog changed): the part page's "repair and analyse again"."""
    with UnitOfWork(settings.database_url) as uow:
        units = designs.owner_part(uow, who, part_id).units
    return _analyse_again(settings, who, part_id, units)


def _analyse_again(settings: Settings, who: Principal, part_id: str, unit: str | None) -> tuple[StoredPart, Job | None]:
    with UnitOfWork(settings.database_url) as uow:
        part = designs.owner_part(uow, who, part_id)
        if part.analysing:
            raise InputError(f"part {part_id} is being analysed", hint="wait until its status is ready or failed",
                             code="part.analysing", status=409)
        uow.parts.set_units(part.id, unit)
        job = None
        if part.size_bytes > inline_max_bytes(settings):
            job = jobs.enqueue(uow, "analyze_part", {"part_id": part.id}, organisation_id=who.organisation_id,
                               user_id=who.user_id)
            uow.parts.set_status(part.id, "queued", job_id=job.id)
        uow.commit()
    if job is not None:
        jobs.submit(settings, job.id)
        return get_part(settings, who, part_id), job
    return analyze_part(settings, part_id), None


def _problem(exc: InputError) -> dict[str, Any]:
    return {"type": f"urn:fabgrid:problem:{exc.code}", "title": exc.code, "status": exc.status,
            "detail": exc.message, "hint": exc.hint}


def resume_interrupted(settings: Settings) -> int:
    """At start-up: parts whose inline analysis died with a server (`running` without a job) are analysed
    again by a background job; returns how many. Analysis is idempotent, so a part another live process
    still analyses is at worst analysed twice with the same result."""
    with UnitOfWork(settings.database_url) as uow:
        stuck = uow.parts.running_inline()
        made: list[str] = []
        for part in stuck:
            job = jobs.enqueue(uow, "analyze_part", {"part_id": part.id}, organisation_id=part.organisation_id,
                               user_id=part.user_id)
            uow.parts.set_status(part.id, "queued", job_id=job.id)
            made.append(job.id)
        uow.commit()
    for job_id in made:
        jobs.submit(settings, job_id)
    if made:
        log.info("resumed the analysis of %d parts interrupted by a restart", len(made))
    return len(made)


def _keep_for_quotes(part_id: str, sha256: str, units: str | None, loaded: Part, report: PartReport) -> None:
    """Hand the analysed part to the quote cache; a part costing cannot use (no volume) is left out, its
    quote reports the problem then."""
    from fabgrid.services import quotes, quotes_store

    try:
        prepared = quotes.prepare_loaded(loaded, report, quotes.content_key(sha256, units))
    except InputError:
        return
    quotes_store.keep_prepared(part_id, sha256, prepared, units)


@jobs.register("analyze_part")
def _analyze_job(settings: Settings, params: dict[str, Any]) -> dict[str, Any]:
    part = analyze_part(settings, str(params["part_id"]))
    if part.status == "failed":
        p = part.problem or {}
        raise InputError(str(p.get("detail")), hint=p.get("hint"), code=str(p.get("title")),
                         status=int(p.get("status") or 422))
    return {"part_id": part.id, "status": part.status, "links": {"part": f"/api/v1/parts/{part.id}"}}


def get_part(settings: Settings, who: Principal, part_id: str) -> StoredPart:
    """One part of the caller's organisation (another organisation's part is 'not found')."""
    with UnitOfWork(settings.database_url) as uow:
        return designs.owner_part(uow, who, part_id)


def list_parts(settings: Settings, who: Principal, limit: int = 100, offset: int = 0) -> list[StoredPart]:
    """The caller's organisation's parts, newest first."""
    with UnitOfWork(settings.database_url) as uow:
        return uow.parts.find(who.organisation_id, limit, offset)


def part_mesh(settings: Settings, who: Principal, part_id: str, fmt: str = "glb") -> tuple[bytes, str]:
    """The part as a viewer mesh (binary glTF or binary STL, in mm, faces in the order the findings
    index), for the owner's organisation only; logged in the audit. Returns (bytes, media type)."""
    from fabgrid.geometry.load import load_bytes

    if fmt not in MESH_FORMATS:
        raise InputError(f"mesh format {fmt!r} is not offered", hint="use glb or stl", code="mesh.format")
    part = designs.record_owner_access(settings, who, part_id, "owner_mesh")
    from fabgrid.services.quotes_store import cached_part

    loaded = cached_part(part.id, part.sha256, part.units)  # the part the upload's analysis loaded, if cached
    if loaded is None:
        from fabgrid.geometry.repair import auto_repair_part

        loaded = auto_repair_part(load_bytes(designs.read_design(settings, part), part.filename, units=part.units,
                                             guess=True))[0]  # the mesh the analysis read and repaired
    data = loaded.trimesh.export(file_type=fmt)
    return (data if isinstance(data, bytes) else str(data).encode()), MESH_FORMATS[fmt]
