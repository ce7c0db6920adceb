"""A machine's camera: one frame from its snapshot URL (the JPEG or PNG that OctoPrint's webcam, mjpg-streamer's
``?action=snapshot``, crowsnest or a network camera answers), and the rule that turns scored frames into a pause:
a failure is called after `pause_after` anomalous frames in a row, so one odd frame (a hand, a flash) never stops
a print. Scoring is not done here (the quality engine's detector, composed by services.camera_watch).

Limits: a frame of at most `MAX_FRAME_BYTES` and `MAX_FRAME_PIXELS`, fetched within `TIMEOUT_S`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import httpx
import numpy as np
from numpy.typing import NDArray

from fabgrid.dispatch.base import HostError

#: Seconds one snapshot may take.
TIMEOUT_S = 5.0
#: The largest snapshot accepted, in bytes and in pixels (a 4K frame is 8.3 Mpx).
MAX_FRAME_BYTES = 8 * 1024 * 1024
MAX_FRAME_PIXELS = 4096 * 4096


def _error(url: str, why: str, hint: str) -> HostError:
    return HostError(f"camera at {url}: {why}", hint=hint, code="dispatch.camera", status=502)


def fetch_frame(url: str, *, timeout_s: float = TIMEOUT_S, client: httpx.Client | None = None) -> NDArray[np.uint8]:
    """The current frame of the camera at `url` as an RGB array (rows, cols, 3); HostError(dispatch.camera) when
    it cannot be reached, answers no image, or sends one over the limits."""
    from PIL import Image

    own = client is None
    c = client or httpx.Client(timeout=timeout_s, follow_redirects=False)
    try:
        with c.stream("GET", url, timeout=timeout_s) as r:
            if r.status_code != 200:
                raise _error(url, f"answered {r.status_code}", "check the snapshot URL in the camera's settings")
            data = bytearray()
            for chunk in r.iter_bytes():
                data += chunk
                if len(data) > MAX_FRAME_BYTES:
                    raise _error(url, f"the frame is over {MAX_FRAME_BYTES // 2**20} MiB",
                                 "lower the camera's resolution or JPEG quality")
    except httpx.HTTPError as exc:
        raise _error(url, f"cannot be reached ({type(exc).__name__})",
                     "check that the camera is on and the URL (scheme, address, port, path)") from None
    finally:
        if own:
            c.close()
    try:
        with Image.open(io.BytesIO(bytes(data))) as img:
            if img.width * img.height > MAX_FRAME_PIXELS:
                raise _error(url, f"the frame has {img.width}x{img.height} pixels",
                             f"use at most {MAX_FRAME_PIXELS // 10**6} megapixels")
            return np.asarray(img.convert("RGB"), dtype=np.uint8)
    except (OSError, ValueError, Image.DecompressionBombError):
        raise _error(url, "the answer is not a JPEG or PNG image",
                     "give the camera's snapshot URL (one still image), not its stream or page") from None


@dataclass
class FailureRule:
    """Anomalous frames in a row before a failure is called (and the print paused)."""

    pause_after: int
    streak: int = 0
    called: bool = False

    def observe(self, anomalous: bool) -> bool:
        """Count one scored frame; True once, on the frame that completes the streak."""
        self.streak = self.streak + 1 if anomalous else 0
        if self.streak >= self.pause_after and not self.called:
            self.called = True
            return True
        return False
