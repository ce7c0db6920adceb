"""Parts: POST /api/v1/parts (streamed multipart upload), GET /api/v1/parts[/{id}[/mesh|/design|/audit]],
PATCH /api/v1/parts/{id} {units} (read in another unit, analysed again), POST /api/v1/parts/{id}/split (a
multi-body 3MF into one part per body).

The upload is parsed chunk by chunk (python-multipart) straight into the encrypting writer, so the size
limit holds while streaming and memory stays at one chunk. Depends on services.parts/designs/ratelimit.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from python_multipart import MultipartParser
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import parse_options_header

from fabgrid.api import resources
from fabgrid.api.auth import CurrentPrincipal
from fabgrid.api.deps import get_settings
from fabgrid.api.errors import problem
from fabgrid.config import Settings
from fabgrid.errors import InputError
from fabgrid.services import designs, formats, part_split, parts, ratelimit
from fabgrid.services.accounts import Principal

router = APIRouter(prefix="/api/v1/parts", tags=["parts"])
SettingsDep = Annotated[Settings, Depends(get_settings)]
#: Bytes of multipart framing allowed beyond the file itself.
FRAMING_BYTES = 64 * 1024
MAX_FIELD_BYTES = 256
#: Largest `offset` of the part list (a database integer holds it; more is a 422, not a 500).
MAX_OFFSET = 1_000_000_000

_UPLOAD_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary", "description": f"{formats.FORMATS_TEXT} file"},
        "units": {"type": "string", "enum": list(parts.UNITS), "description": "override the file's unit"}}}}}}}
_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}


class _StreamedForm:
    """Callbacks of python-multipart's parser: the 'file' part goes to an `Upload`, small fields to a dict."""

    def __init__(self, settings: Settings, who: Principal) -> None:
        self.settings, self.who = settings, who
        self.upload: parts.Upload | None = None
        self.fields: dict[str, bytearray] = {}
        self._headers: dict[bytes, bytes] = {}
        self._field, self._value = b"", b""
        self._current: str | None = None
        self._to_file = False

    def callbacks(self) -> dict[str, Any]:
        return {"on_part_begin": self._begin, "on_header_field": self._hfield, "on_header_value": self._hvalue,
                "on_header_end": self._hend, "on_headers_finished": self._hdone, "on_part_data": self._data}

    def _begin(self) -> None:
        self._headers, self._field, self._value = {}, b"", b""

    def _hfield(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _hvalue(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _hend(self) -> None:
        self._headers[self._field.lower()] = self._value
        self._field, self._value = b"", b""

    def _hdone(self) -> None:
        _, opts = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = opts.get(b"name", b"").decode("utf-8", "replace")
        self._current, self._to_file = name, False
        if name == "file":
            if self.upload is not None:
                raise InputError("send one file per upload", code="upload.multiple_files")
            filename = opts.get(b"filename", b"").decode("utf-8", "replace")
            self.upload = parts.Upload(self.settings, self.who, filename, None)
            self._to_file = True
        elif b"filename" in opts:
            raise InputError(f"unexpected file field {name!r}", hint="send the part as the field 'file'",
                             code="upload.no_file")
        else:
            self.fields[name] = bytearray()

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._to_file:
            assert self.upload is not None
            self.upload.write(data[start:end])
        elif self._current is not None:
            buf = self.fields[self._current]
            buf += data[start:end]
            if len(buf) > MAX_FIELD_BYTES:
                raise InputError(f"form field {self._current!r} is longer than {MAX_FIELD_BYTES} bytes",
                                 code="upload.field_size", status=413)


async def _receive(request: Request, form: _StreamedForm) -> None:
    ctype, opts = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or b"boundary" not in opts:
        raise InputError("upload the part as multipart/form-data with a 'file' field",
                         hint="curl -F file=@part.stl ...", code="upload.content_type", status=415)
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > parts.MAX_FILE_BYTES + FRAMING_BYTES:
        parts.check_file_size(int(declared) - FRAMING_BYTES, "upload")
    parser = MultipartParser(opts[b"boundary"], form.callbacks())  # type: ignore[arg-type]
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as exc:
        raise InputError(f"the multipart body is malformed ({exc})", hint="curl -F file=@part.stl ...",
                         code="upload.malformed", status=400) from None


@router.post("", status_code=201, summary="Upload a part (multipart); analysed inline (201) or as a job (202)",
             openapi_extra=_UPLOAD_BODY,
             responses={202: {"description": "large file: analysis queued; poll the job"},
                        400: {"description": "malformed multipart body", **_PROBLEM},
                        413: {"description": "file above a limit (size, triangles, zip bomb, time)", **_PROBLEM},
                        415: {"description": "not multipart or unsupported file type", **_PROBLEM},
                        422: {"description": "the file cannot be read as a part (the part is kept, failed)",
                              **_PROBLEM},
                        429: {"description": "upload rate limit", **_PROBLEM}})
async def upload_part(request: Request, principal: CurrentPrincipal, settings: SettingsDep) -> JSONResponse:
    """Stream a design into encrypted storage and analyse it.

    Files up to 2 MiB (`fabgrid.services.parts.INLINE_ANALYSIS_MAX_BYTES`) are analysed during the request
    (201, the part with its report); larger ones answer 202 with a job (`GET /api/v1/jobs/{id}`). Limits: see
    `fabgrid.geometry.limits` (size checked on every chunk, 413). A file the inline analysis refuses answers
    its problem (413 a limit, 415 an unsupported format, 422 unreadable) with the stored, failed part in
    `part`. Rate limit: "upload" (429).
    """
    await run_in_threadpool(ratelimit.take, settings, principal, "upload")
    form = _StreamedForm(settings, principal)
    try:
        await _receive(request, form)
        if form.upload is None:
            raise InputError("the upload has no 'file' field", hint="curl -F file=@part.stl ...",
                             code="upload.no_file")
        form.upload.units = parts.check_units(form.fields.get("units", bytearray()).decode("utf-8", "replace"))
    except BaseException:
        if form.upload is not None:
            form.upload.abort()
        raise
    stored, job = await run_in_threadpool(form.upload.finish)
    part = resources.part_doc(stored)
    if job is None and stored.status == "failed" and stored.problem:
        p = stored.problem
        return problem(int(p["status"]), str(p["title"]), str(p["detail"]), type_=str(p["type"]),
                       instance=part["links"]["self"], hint=p.get("hint"), part=part)
    if job is None:
        return JSONResponse(part, status_code=201, headers={"Location": part["links"]["self"]})
    doc = resources.job_doc(job)
    return JSONResponse(doc | {"part": part}, status_code=202, headers={"Location": doc["links"]["self"]})


@router.get("", summary="The organisation's parts, newest first")
def list_parts(principal: CurrentPrincipal, settings: SettingsDep, limit: Annotated[int, Query(ge=1, le=500)] = 100,
               offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0) -> list[dict[str, Any]]:
    return [resources.part_doc(p, full=False) for p in parts.list_parts(settings, principal, limit, offset)]


@router.get("/{part_id}", summary="A part: status, facts, DFM findings, the full report")
def get_part(part_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    return resources.part_doc(parts.get_part(settings, principal, part_id))


class PartPatch(BaseModel):
    """A change to a part: the unit its file is read in (its analysis is done again)."""

    units: str = Field(max_length=8, description=f"one of {', '.join(parts.UNITS)}", examples=["inch"])


@router.patch("/{part_id}", summary="Read the part in another unit and analyse it again (200; a large file: 202 "
              "with the job)", responses={202: {"description": "the analysis runs as a job"}, 409: _PROBLEM})
def patch_part(part_id: str, body: PartPatch, principal: CurrentPrincipal, settings: SettingsDep) -> JSONResponse:
    ratelimit.take(settings, principal, "upload")  # an analysis as costly as an upload's
    stored, job = parts.change_units(settings, principal, part_id, body.units)
    part = resources.part_doc(stored)
    if job is None:
        return JSONResponse(part)
    doc = resources.job_doc(job)
    return JSONResponse(doc | {"part": part}, status_code=202, headers={"Location": doc["links"]["self"]})


@router.post("/{part_id}/split", status_code=201, summary="Split a multi-body 3MF into one part per body",
             responses={409: {"description": "the file holds one body", **_PROBLEM},
                        413: {"description": "more bodies than can be split at once", **_PROBLEM},
                        422: {"description": "not a 3MF, or a body with too few triangles", **_PROBLEM}})
def split_part(part_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    """Each object / build item of the 3MF becomes its own part (binary STL in mm, analysed like an upload), to be
    quoted and ordered as its own line; at most `services.part_split.MAX_BODIES` bodies of at least
    `MIN_BODY_TRIANGLES` triangles each. The original part stays. Rate limit: "upload"."""
    ratelimit.take(settings, principal, "upload")
    return {"parts": [resources.part_doc(p, full=False) for p in part_split.split_part(settings, principal, part_id)]}


@router.get("/{part_id}/mesh", summary="The part as a viewer mesh (binary glTF or STL), owner only",
            response_class=Response, responses={200: {"content": {"model/gltf-binary": {}, "model/stl": {}}}})
def get_mesh(part_id: str, principal: CurrentPrincipal, settings: SettingsDep,
             format: Annotated[str, Query(pattern="^(glb|stl)$")] = "glb") -> Response:
    data, media = parts.part_mesh(settings, principal, part_id, format)
    return Response(data, media_type=media, headers={"Cache-Control": "private, no-store"})


@router.get("/{part_id}/design", summary="Download the original design file (owner; logged)",
            response_class=Response)
def download_design(part_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> Response:
    f = designs.owner_download(settings, principal, part_id)
    return Response(f.data, media_type="application/octet-stream", headers={
        "Content-Disposition": f'attachment; filename="{_safe(f.filename)}"', "Cache-Control": "private, no-store"})


@router.get("/{part_id}/audit", summary="Every access to the design (owner's organisation)")
def audit(part_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> list[dict[str, Any]]:
    return [resources.access_doc(a) for a in designs.audit_log(settings, principal, part_id)]


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)[:200]
