"""The dispatch repository on SQLite and PostgreSQL: connections replaced in place, a build claimed by one caller
only (compare-and-set), re-planning drops only planned builds."""

from __future__ import annotations

from datetime import UTC, datetime

from fabgrid.domain.dispatch import BuildPart, BuildStatus, ConnectionState, PlannedBuild
from fabgrid.services.platform import seed_database
from fabgrid.store.uow import UnitOfWork

SITE = "cs-tianxin-01"


def _build(n: int) -> PlannedBuild:
    at = datetime(2026, 12, 3, 8, n, tzinfo=UTC)
    return PlannedBuild(id=f"bld_{n:016x}", site_id=SITE, machine_id=f"{SITE}-f01", machine_model="creality_k1max",
                        process="fdm", material="fdm_pla", status=BuildStatus.PLANNED, estimated_time_s=0.0,
                        parts=(BuildPart(name="cube", copies=2),), created_at=at, updated_at=at)


def test_connections_and_build_claims(db_url: str) -> None:
    seed_database(db_url)
    with UnitOfWork(db_url) as uow:
        uow.dispatch.save_connection(f"{SITE}-f01", SITE, "octoprint", b"sealed-1", "k1")
        uow.dispatch.save_connection(f"{SITE}-f01", SITE, "moonraker", b"sealed-2", "k1")  # replaced in place
        uow.dispatch.set_state(f"{SITE}-f01", ConnectionState.UNAUTHORIZED, "403")
        for n in (1, 2):
            uow.dispatch.add_build(_build(n), {})
        uow.commit()
    with UnitOfWork(db_url) as uow:
        [c] = uow.dispatch.connections(SITE, {f"{SITE}-f01": "http://10.0.0.5:7125/x?y"})
        assert (c.kind, c.host, c.state) == ("moonraker", "http://10.0.0.5:7125", ConnectionState.UNAUTHORIZED)
        assert uow.dispatch.sealed(SITE) == [(f"{SITE}-f01", b"sealed-2", "k1")]
        first = uow.dispatch.claim(_build(1).id, BuildStatus.PLANNED, BuildStatus.SENDING, "a")
        second = uow.dispatch.claim(_build(1).id, BuildStatus.PLANNED, BuildStatus.SENDING, "b")
        assert first and not second
        assert uow.dispatch.drop_planned(SITE) == 1  # build 2; the claimed build is kept
        uow.commit()
    with UnitOfWork(db_url) as uow:
        [kept] = uow.dispatch.builds(SITE)
        assert kept.id == _build(1).id and kept.status is BuildStatus.SENDING and kept.copies == 2
        assert uow.dispatch.planned_copies([]) == {}
