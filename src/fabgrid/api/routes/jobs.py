"""Jobs: GET /api/v1/jobs/{id} (status queued/running/succeeded/failed with result or problem)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

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
