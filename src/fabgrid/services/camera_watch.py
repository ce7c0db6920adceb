"""A machine's camera watching its builds (issue 20, item 4). The factory links a camera to a machine that has a
print host (its snapshot URL, sealed with the host's credentials) and fabgrid learns what normal looks like from
frames of that camera (the quality engine's anomaly detector, trained on them; the model file lives in the data
directory). While a build prints, the follow-up scores a frame every `every_s` seconds and stores it as a `camera`
machine event; after `pause_after` anomalous frames in a row the print is paused through its host, and the build's
message and an e-mail to the site's users (when SMTP is set) tell the factory. A camera that cannot be reached
never pauses a print (the frame is skipped).

Composes the dispatch engine (snapshots, the failure rule), the quality engine (the detector) and the store; never
imports api, web or cli.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fabgrid.config import Settings
from fabgrid.dispatch.base import Connector, HostError
from fabgrid.dispatch.camera import FailureRule, fetch_frame
from fabgrid.dispatch.follow import Follower
from fabgrid.errors import InputError, NotFoundError
from fabgrid.services import designs, device_urls, mail
from fabgrid.services.accounts import Principal
from fabgrid.store.uow import UnitOfWork

log = logging.getLogger(__name__)

#: Frames learnt from when a camera is linked (the detector needs 5 at least), and the pause between two.
MIN_LEARN_FRAMES, MAX_LEARN_FRAMES, LEARN_FRAMES = 5, 30, 8
LEARN_GAP_S = 0.5
#: Anomalous frames in a row before the print is paused (1 pauses on the first odd frame: many false alarms).
MIN_PAUSE_AFTER, MAX_PAUSE_AFTER, PAUSE_AFTER = 1, 20, 3
#: Seconds between two scored frames while a build prints.
MIN_EVERY_S, MAX_EVERY_S, EVERY_S = 1.0, 600.0, 10.0
#: The detector's share of normal frames called anomalous (its threshold's quantile).
TARGET_FRR = 0.05


@dataclass(frozen=True)
class CameraLink:
    """A machine's camera: where its frames come from (scheme, host and port only: the URL may hold a key), the
    failure rule, and the detector learnt from its frames."""

    machine_id: str
    camera: str
    pause_after: int
    every_s: float
    threshold: float
    frames: int


def model_path(settings: Settings, machine_id: str) -> Path:
    """Where the detector learnt from `machine_id`'s camera is kept."""
    return settings.data_dir / "cameras" / f"{machine_id}.npz"


def _sealed(settings: Settings, uow: UnitOfWork, machine_id: str) -> dict[str, Any]:
    from fabgrid.services.dispatch import _unseal

    found = uow.dispatch.secret(machine_id)
    if found is None:
        raise NotFoundError(f"machine {machine_id} has no print host", hint="link its print host first, then its "
                            "camera (the camera pauses prints through the host)", code="dispatch.not_connected")
    _, blob, key_id = found
    return _unseal(settings, machine_id, blob, key_id)


def _reseal(settings: Settings, uow: UnitOfWork, machine_id: str, doc: dict[str, Any]) -> None:
    """Keep the connection's secret `doc` sealed under the master key again (in the caller's transaction)."""
    master = designs.master_key(settings)
    uow.dispatch.reseal(machine_id, designs.seal(master, json.dumps(doc).encode(), machine_id.encode()),
                        designs.key_id(master))


def _check(url: str, pause_after: int, every_s: float, learn_frames: int) -> None:
    u = urlsplit(url)
    if u.scheme not in ("http", "https") or not u.hostname:
        raise InputError(f"camera URL {url[:200]!r} is not an http(s) URL", hint="give the camera's snapshot URL, e.g. "
                         "http://printer.local/webcam/?action=snapshot", code="camera.url")
    try:
        port = u.port or (443 if u.scheme == "https" else 80)
    except ValueError:
        raise InputError(f"camera URL {url[:200]!r} has an invalid port", code="camera.url") from None
    device_urls.check_device_host(u.hostname, port, "camera", "camera.url")
    if not MIN_PAUSE_AFTER <= pause_after <= MAX_PAUSE_AFTER:
        raise InputError(f"pause after {pause_after} frames is out of range",
                         hint=f"{MIN_PAUSE_AFTER}..{MAX_PAUSE_AFTER} anomalous frames in a row",
                         code="camera.pause_after")
    if not MIN_EVERY_S <= every_s <= MAX_EVERY_S:
        raise InputError(f"a frame every {every_s:g} s is out of range",
                         hint=f"{MIN_EVERY_S:g}..{MAX_EVERY_S:g} seconds", code="camera.every")
    if not MIN_LEARN_FRAMES <= learn_frames <= MAX_LEARN_FRAMES:
        raise InputError(f"learning from {learn_frames} frames is out of range",
                         hint=f"{MIN_LEARN_FRAMES}..{MAX_LEARN_FRAMES} frames", code="camera.frames")


def _origin(url: str) -> str:
    u = urlsplit(url)
    return f"{u.scheme}://{u.hostname or ''}" + (f":{u.port}" if u.port else "")


def link_camera(settings: Settings, machine_id: str, url: str, *, pause_after: int = PAUSE_AFTER,
                every_s: float = EVERY_S, learn_frames: int = LEARN_FRAMES, learn_gap_s: float = LEARN_GAP_S,
                who: Principal | None = None) -> CameraLink:
    """Link the camera at `url` (a snapshot URL) to `machine_id` and learn normal frames from it now: take
    `learn_frames` frames `learn_gap_s` apart (while the machine shows what it normally does: a good print, or
    its bed), train the detector, keep it. Nothing is changed when a frame cannot be taken."""
    from fabgrid.quality.anomaly import train
    from fabgrid.quality.anomaly_io import save_model
    from fabgrid.services.dispatch import _check_site, _machine_site

    _check(url, pause_after, every_s, learn_frames)
    with UnitOfWork(settings.database_url) as uow:
        site_id, _ = _machine_site(uow, machine_id)
        _check_site(who, site_id, f"machine {machine_id}")
        _sealed(settings, uow, machine_id)
    frames = []
    for i in range(learn_frames):
        if i:
            time.sleep(learn_gap_s)
        frames.append(fetch_frame(url))
    model = train(frames, target_frr=TARGET_FRR)
    save_model(model, model_path(settings, machine_id))
    with UnitOfWork(settings.database_url) as uow:
        doc = _sealed(settings, uow, machine_id)
        doc["camera"] = {"url": url, "pause_after": pause_after, "every_s": every_s, "threshold": model.threshold,
                         "frames": learn_frames}
        _reseal(settings, uow, machine_id, doc)
        uow.commit()
    return CameraLink(machine_id, _origin(url), pause_after, every_s, model.threshold, learn_frames)


def camera_of(settings: Settings, machine_id: str, who: Principal | None = None) -> CameraLink | None:
    """The camera linked to `machine_id`, or None."""
    from fabgrid.services.dispatch import _check_site, _machine_site

    with UnitOfWork(settings.database_url) as uow:
        site_id, _ = _machine_site(uow, machine_id)
        _check_site(who, site_id, f"machine {machine_id}")
        if uow.dispatch.secret(machine_id) is None:
            return None
        cam = _sealed(settings, uow, machine_id).get("camera")
    if not cam:
        return None
    return CameraLink(machine_id, _origin(str(cam["url"])), int(cam["pause_after"]), float(cam["every_s"]),
                      float(cam["threshold"]), int(cam["frames"]))


def unlink_camera(settings: Settings, machine_id: str, who: Principal | None = None) -> None:
    """Stop watching `machine_id` with its camera (the learnt detector is deleted)."""
    from fabgrid.services.dispatch import _check_site, _machine_site

    with UnitOfWork(settings.database_url) as uow:
        site_id, _ = _machine_site(uow, machine_id)
        _check_site(who, site_id, f"machine {machine_id}")
        doc = _sealed(settings, uow, machine_id)
        doc.pop("camera", None)
        _reseal(settings, uow, machine_id, doc)
        uow.commit()
    model_path(settings, machine_id).unlink(missing_ok=True)


class Watch:
    """Scores a build's frames while it prints and pauses it on a failure (one per follow-up)."""

    def __init__(self, settings: Settings, machine_id: str, cam: dict[str, Any]) -> None:
        from fabgrid.quality.anomaly_io import load_model

        self.settings, self.machine_id, self.url = settings, machine_id, str(cam["url"])
        self.every_s = float(cam["every_s"])
        self.model = load_model(model_path(settings, machine_id))
        self.rule = FailureRule(int(cam["pause_after"]))
        self.last = -1e18
        self.paused: str | None = None

    def tick(self, host: Connector, follower: Follower) -> tuple[list[dict[str, Any]], str | None]:
        """When a frame is due: its event, and the message of the pause it caused (None: none)."""
        t = time.monotonic()
        if self.paused is not None or t - self.last < self.every_s:
            return [], None
        self.last = t
        try:
            frame = fetch_frame(self.url)
        except HostError as exc:  # a camera outage never stops a print
            log.warning("machine %s: %s", self.machine_id, exc.message)
            return [], None
        scores, _ = self.model.score([frame])
        score = float(scores[0])
        anomalous = score > self.model.threshold
        fail = self.rule.observe(anomalous)
        events = follower.camera(score, self.model.threshold, self.rule.streak)
        if not fail:
            return events, None
        host.pause()
        self.paused = (f"paused by the camera watch: {self.rule.streak} anomalous frames in a row (score {score:.3g}"
                       f" over the threshold {self.model.threshold:.3g}); check the print, then resume or cancel it "
                       "at the printer")
        return events, self.paused


def watch_for(settings: Settings, machine_id: str) -> Watch | None:
    """The watch of the machine's camera, or None without a camera (or without its learnt detector)."""
    with UnitOfWork(settings.database_url) as uow:
        if uow.dispatch.secret(machine_id) is None:
            return None
        cam = _sealed(settings, uow, machine_id).get("camera")
    if not cam or not model_path(settings, machine_id).is_file():
        return None
    try:
        return Watch(settings, machine_id, cam)
    except InputError as exc:  # a damaged model file: the print goes on unwatched, and the log says why
        log.warning("machine %s: the camera's detector cannot be read: %s", machine_id, exc.message)
        return None


def tell_factory(uow: UnitOfWork, settings: Settings, site_id: str, build_id: str, machine_id: str,
                 message: str) -> list[str]:
    """Queue the e-mail to the site's users about a paused build (when SMTP is set); the job ids to submit."""
    to = uow.rfq.emails(site_ids=[site_id])
    if not settings.smtp_url or not to:
        return []
    subject = f"fabgrid: build {build_id} paused on {machine_id} / 批次 {build_id} 已在 {machine_id} 上暂停"
    body = (f"{message}\n\n摄像头连续检测到异常画面，打印已通过打印主机暂停。请检查打印件，然后在打印机上继续或取消。\n"
            f"Build {build_id}, machine {machine_id}.")
    return [mail.queue(uow, to, subject, body).id]
