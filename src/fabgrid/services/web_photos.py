"""Use cases of production photos: a factory adds pictures of an order's parts (build plate, finished
parts, inspection set-up); the buyer, the factory holding the order and operators see them.

Every image is decoded and re-encoded as JPEG with Pillow (metadata such as GPS dropped; a non-image is
refused), stored under the data directory per order. Access is checked through `services.orders`
visibility rules. Depends on Pillow, services.orders and the settings; never on api, web or cli.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

from fabgrid.config import Settings
from fabgrid.errors import InputError, LimitError, NotFoundError
from fabgrid.services import orders
from fabgrid.services.accounts import Principal

MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_PHOTOS_PER_ORDER = 50
MAX_SIDE_PX = 1600
JPEG_QUALITY = 85
_NAME = re.compile(r"^\d{3}\.jpg$")


def _folder(settings: Settings, order_id: str) -> Path:
    if not re.fullmatch(r"[a-z]{3}_[0-9a-f]{8,32}", order_id):
        raise NotFoundError(f"order {order_id!r} not found", code="order.not_found")
    return Path(settings.data_dir) / "order_photos" / order_id


def add_photo(settings: Settings, who: Principal, order_id: str, data: bytes) -> str:
    """Store a photo of an order of the caller's site (factories only); returns its name."""
    from PIL import Image, UnidentifiedImageError

    if who.role != "factory":
        raise InputError("only the factory making the order adds production photos", code="photo.not_factory",
                         status=403)
    orders.get_order(settings, who, order_id)  # 404 unless the order is at the caller's site
    if len(data) > MAX_PHOTO_BYTES:
        raise LimitError(f"the photo is {len(data) / 1e6:.1f} MB; the limit is {MAX_PHOTO_BYTES // 2**20} MiB",
                         hint="send a smaller JPEG or PNG", code="photo.size")
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.width * img.height > 50_000_000:
                raise LimitError("the photo has more than 50 megapixels", code="photo.pixels")
            img.thumbnail((MAX_SIDE_PX, MAX_SIDE_PX))
            out = io.BytesIO()
            img.convert("RGB").save(out, format="JPEG", quality=JPEG_QUALITY)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise InputError(f"the file is not a readable image ({exc.__class__.__name__})",
                         hint="send a JPEG or PNG photo", code="photo.not_image") from None
    folder = _folder(settings, order_id)
    folder.mkdir(parents=True, exist_ok=True)
    existing = sorted(p.name for p in folder.iterdir() if _NAME.match(p.name))
    if len(existing) >= MAX_PHOTOS_PER_ORDER:
        raise LimitError(f"order {order_id} has {MAX_PHOTOS_PER_ORDER} photos already", code="photo.count")
    name = f"{len(existing) + 1:03d}.jpg"
    tmp = folder / (name + ".part")
    tmp.write_bytes(out.getvalue())
    tmp.replace(folder / name)
    return name


def list_photos(settings: Settings, who: Principal, order_id: str) -> list[str]:
    """The photo names of an order the caller may see (404 otherwise)."""
    orders.get_order(settings, who, order_id)
    folder = _folder(settings, order_id)
    return sorted(p.name for p in folder.iterdir() if _NAME.match(p.name)) if folder.is_dir() else []


def photo_bytes(settings: Settings, who: Principal, order_id: str, name: str) -> bytes:
    """One photo (JPEG bytes) of an order the caller may see."""
    orders.get_order(settings, who, order_id)
    path = _folder(settings, order_id) / name
    if not _NAME.match(name) or not path.is_file():
        raise NotFoundError(f"photo {name!r} of order {order_id} not found", code="photo.not_found")
    return path.read_bytes()
