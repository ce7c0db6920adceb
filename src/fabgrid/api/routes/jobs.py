"""Jobs: GET /api/v1/jobs/{id} (status queued/running/succeeded/failed with result or problem); for operators the
dead letters: GET /api/v1/operator/jobs?status=failed and POST /api/v1/operator/jobs/{id}/retry."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from fabgrid.api import resources
from fabgrid.api.auth import CurrentPrincipal
from fabgrid.api.deps import get_settings
from fabgrid.config import Settings
from fabgrid.services import jobs

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])


@router.get("/{job_id}", summary="A background job of the caller's organisation")
def get_job(job_id: str, principal: CurrentPrincipal,
            settings: Annotated[Settings, Depends(get_settings)]) -> dict[str, Any]:
    return resources.job_doc(jobs.get_job(settings, principal, job_id))


operator_router = APIRouter(prefix="/api/v1/operator/jobs", tags=["operator"])


@operator_router.get("", summary="Failed jobs of every organisation (the dead letters), newest first")
def failed_jobs(principal: CurrentPrincipal, settings: Annotated[Settings, Depends(get_settings)],
                status: Annotated[str, Query(pattern="^failed$", description="only `failed` is listed")] = "failed",
                kind: Annotated[str | None, Query(max_length=60)] = None,
                limit: Annotated[int, Query(ge=1, le=jobs.MAX_FAILED_PAGE)] = 50,
                offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> dict[str, Any]:
    items = jobs.failed_jobs(settings, principal, kind=kind, limit=limit, offset=offset)
    return {"items": [resources.job_doc(j) for j in items], "limit": limit, "offset": offset}


@operator_router.post("/{job_id}/retry", status_code=202, summary="Run a failed job again")
def retry_job(job_id: str, principal: CurrentPrincipal,
              settings: Annotated[Settings, Depends(get_settings)]) -> dict[str, Any]:
    return resources.job_doc(jobs.retry_job(settings, principal, job_id))
