"""Showroom photos (issue 18, item 3): a factory adds pictures of its shop floor, machines and parts to its public
booth; anyone may see the photos of a booth the showroom shows.

Each upload is decoded and re-encoded as JPEG with Pillow (metadata dropped, a non-image refused with a 4xx) and
stored encrypted like production photos (`services.web_photos`: AES-256-GCM under a wrapped per-photo key, with
``showroom-<site id>/<name>`` as associated data), under the data directory per site. Depends on Pillow,
services.web_photos and the settings; never on api, web or cli.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

from fabgrid.config import Settings
from fabgrid.errors import InputError, LimitError, NotFoundError
from fabgrid.services import web_photos
from fabgrid.services.accounts import Principal

MAX_PHOTOS = 12
MAX_PHOTO_BYTES = web_photos.MAX_PHOTO_BYTES
_NAME = re.compile(r"^\d{3}\.jpg$")
_SITE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def _owner(site_id: str) -> str:
    return f"showroom-{site_id}"


def _folder(settings: Settings, site_id: str) -> Path:
    if not _SITE.match(site_id):
        raise NotFoundError(f"factory {site_id!r} not found", code="site.not_found")
    return Path(settings.data_dir) / "showroom_photos" / site_id


def _names(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted(n for n in (p.name.removesuffix(web_photos.ENCRYPTED) for p in folder.iterdir()
                              if p.name.endswith(web_photos.ENCRYPTED)) if _NAME.match(n))


def reencoded(data: bytes) -> bytes:
    """The upload as a JPEG of at most `web_photos.MAX_SIDE_PX` a side; 413 when too large, 415 for a non-image."""
    from PIL import Image, UnidentifiedImageError

    if len(data) > MAX_PHOTO_BYTES:
        raise LimitError(f"the photo is {len(data) / 1e6:.1f} MB; the limit is {MAX_PHOTO_BYTES // 2**20} MiB",
                         hint="send a smaller JPEG or PNG", code="photo.size")
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.format not in ("JPEG", "PNG", "WEBP"):
                raise InputError(f"a {img.format} image is not a photo format the showroom takes",
                                 hint="send a JPEG, PNG or WebP photo", code="photo.not_image", status=415)
            if img.width * img.height > 50_000_000:
                raise LimitError("the photo has more than 50 megapixels", code="photo.pixels")
            img.thumbnail((web_photos.MAX_SIDE_PX, web_photos.MAX_SIDE_PX))
            out = io.BytesIO()
            img.convert("RGB").save(out, format="JPEG", quality=web_photos.JPEG_QUALITY)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise InputError(f"the file is not a readable image ({exc.__class__.__name__})",
                         hint="send a JPEG, PNG or WebP photo", code="photo.not_image", status=415) from None
    return out.getvalue()


def add_photo(settings: Settings, who: Principal, data: bytes) -> str:
    """Add a photo to the caller's booth (a factory with a site); returns its name."""
    if who.role != "factory" or not who.site_id:
        raise InputError("only a factory with an approved site has a showroom booth", code="factory.no_site",
                         status=403)
    jpeg = reencoded(data)
    folder = _folder(settings, who.site_id)
    folder.mkdir(parents=True, exist_ok=True)
    existing = _names(folder)
    if len(existing) >= MAX_PHOTOS:
        raise LimitError(f"your booth has {MAX_PHOTOS} photos already", hint="remove one first",
                         code="photo.count")
    name = f"{int(existing[-1][:3]) + 1 if existing else 1:03d}.jpg"
    tmp = folder / (name + web_photos.ENCRYPTED + ".part")
    tmp.write_bytes(web_photos.encrypt_photo(settings, _owner(who.site_id), name, jpeg))
    tmp.replace(folder / (name + web_photos.ENCRYPTED))
    return name


def remove_photo(settings: Settings, who: Principal, name: str) -> None:
    """Remove a photo of the caller's booth (404 for a photo it does not have)."""
    if who.role != "factory" or not who.site_id:
        raise InputError("only a factory with an approved site has a showroom booth", code="factory.no_site",
                         status=403)
    path = _folder(settings, who.site_id) / (name + web_photos.ENCRYPTED)
    if not _NAME.match(name) or not path.is_file():
        raise NotFoundError(f"photo {name!r} not found in your booth", code="photo.not_found")
    path.unlink()


def photos(settings: Settings, site_id: str) -> list[str]:
    """The photo names of a site's booth, oldest first."""
    return _names(_folder(settings, site_id))


def photo_bytes(settings: Settings, site_id: str, name: str) -> bytes:
    """One photo (JPEG bytes) of a site's booth."""
    path = _folder(settings, site_id) / (name + web_photos.ENCRYPTED)
    if not _NAME.match(name) or not path.is_file():
        raise NotFoundError(f"photo {name!r} of factory {site_id} not found", code="photo.not_found")
    return web_photos.decrypt_photo(settings, _owner(site_id), name, path.read_bytes())
