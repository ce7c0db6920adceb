"""E-mail notifications: one background job kind ("email") that sends a plain-text message through the SMTP
server of `Settings.smtp_url` (FABGRID_SMTP_URL, ``smtp://host:port``) from `Settings.smtp_from`.

Callers queue it in their own transaction (`queue`) and submit the job after their commit, so a mail is sent
only for what was committed, and a slow or absent server never holds a request. Used by messages, awards and
disruptions. Depends on services.jobs only.
"""

from __future__ import annotations

import smtplib
from collections.abc import Sequence
from email.message import EmailMessage
from typing import Any

from fabgrid.config import Settings
from fabgrid.domain.records import Job
from fabgrid.services import jobs
from fabgrid.store.uow import UnitOfWork

#: Seconds to wait for the SMTP server (connect and each command).
SMTP_TIMEOUT_S = 10.0
EMAIL_JOB = "email"


def queue(uow: UnitOfWork, to: Sequence[str], subject: str, body: str, *,
          organisation_id: int | None = None) -> Job:
    """Queue a message to `to` in the caller's transaction; the caller submits the job after its commit."""
    return jobs.enqueue(uow, EMAIL_JOB, {"to": list(to), "subject": subject, "body": body},
                        organisation_id=organisation_id, user_id=None)


@jobs.register(EMAIL_JOB)
def _send(settings: Settings, params: dict[str, Any]) -> dict[str, Any]:
    if not settings.smtp_url:
        return {"sent": 0, "reason": "FABGRID_SMTP_URL is not set"}
    host, port = settings.smtp_url.removeprefix("smtp://").rsplit(":", 1)
    msg = EmailMessage()
    msg["From"] = settings.smtp_from
    msg["To"] = ", ".join(params["to"])
    msg["Subject"] = str(params["subject"])
    msg.set_content(str(params["body"]))
    with smtplib.SMTP(host, int(port), timeout=SMTP_TIMEOUT_S) as smtp:
        smtp.send_message(msg)
    return {"sent": len(params["to"])}
