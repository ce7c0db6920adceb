"""A camera SIMULATOR for the camera-watch tests: an HTTP server answering a snapshot URL
(``/webcam/?action=snapshot``, as OctoPrint's webcam, mjpg-streamer and crowsnest do) with one PNG frame per
request, drawn here: a top view of a print bed (dark, with a faint grid) holding a light part. In `failure` mode the
frame also shows tangled filament (bright random strands, "spaghetti") over the bed; in `page` mode it answers an
HTML page instead of an image. It is not a real camera: frames are synthetic, with a little sensor noise."""

from __future__ import annotations

import io
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
from PIL import Image

W, H = 160, 120


def frame(n: int, failure: bool) -> bytes:
    """Frame number `n` (its noise), with or without spaghetti, as PNG bytes."""
    rng = np.random.default_rng(n)
    img = np.full((H, W), 42.0)
    img[::16, :] += 14.0
    img[:, ::16] += 14.0
    img[40:80, 55:105] = 200.0  # the part being printed
    if failure:
        for _ in range(14):
            y, x = rng.uniform(10, H - 10), rng.uniform(10, W - 10)
            for _ in range(60):
                y = float(np.clip(y + rng.normal(0, 2.5), 1, H - 3))
                x = float(np.clip(x + rng.normal(0, 2.5), 1, W - 3))
                img[int(y):int(y) + 2, int(x):int(x) + 2] = 235.0
    img += rng.normal(0, 1.5, img.shape)
    rgb = np.repeat(np.clip(img, 0, 255).astype(np.uint8)[:, :, None], 3, axis=2)
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, format="PNG")
    return out.getvalue()


class CameraSimulator:
    """Serves frames at `url`; `mode` is ``normal``, ``failure`` or ``page``; `fail_from`: the request number from
    which frames show a failure (None: never by count)."""

    def __init__(self) -> None:
        self.mode = "normal"
        self.fail_from: int | None = None
        self.requests = 0
        sim = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: object) -> None:
                pass

            def do_GET(self) -> None:
                if not self.path.startswith("/webcam/"):
                    self.send_response(404)
                    self.end_headers()
                    return
                sim.requests += 1
                failing = sim.mode == "failure" or (sim.fail_from is not None and sim.requests >= sim.fail_from)
                if sim.mode == "page":
                    body, kind = b"<html><body>camera stream</body></html>", "text/html"
                else:
                    body, kind = frame(sim.requests, failing), "image/png"
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webcam/?action=snapshot"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> CameraSimulator:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
