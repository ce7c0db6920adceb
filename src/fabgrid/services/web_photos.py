"""Use cases of production photos: a factory adds pictures of an order's parts (build plate, finished
parts, inspection set-up); the buyer, the factory holding the order and operators see them.

Every image is decoded and re-encoded as JPEG with Pillow (metadata such as GPS dropped; a non-image is
refused), stored under the data directory per order, encrypted at rest like designs: AES-256-GCM under a random
per-photo key wrapped by the master key (`services.designs`), ``b"FGP1" | key id (16) | wrapped key (40) |
nonce (12) | ciphertext | tag``, with ``<order id>/<name>`` as associated data (a photo copied to another order
or name does not decrypt). A plaintext photo from before is encrypted when first read. Access is checked through
`services.orders` visibility rules. Depends on Pillow, cryptography, services.orders/designs and the settings;
never on api, web or cli.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import aes_key_wrap

from fabgrid.config import Settings
from fabgrid.errors import InputError, LimitError, NotFoundError
from fabgrid.services import designs, orders
from fabgrid.services.accounts import Principal

MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_PHOTOS_PER_ORDER = 50
MAX_SIDE_PX = 1600
JPEG_QUALITY = 85
_NAME = re.compile(r"^\d{3}\.jpg$")
MAGIC = b"FGP1"
ENCRYPTED = ".enc"  # on disk: 001.jpg.enc


def _aad(order_id: str, name: str) -> bytes:
    return f"{order_id}/{name}".encode()


def encrypt_photo(settings: Settings, order_id: str, name: str, jpeg: bytes) -> bytes:
    """The encrypted file of one photo (see the module docstring for the layout)."""
    master = designs.master_key(settings)
    data_key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(designs.NONCE_BYTES)
    return (MAGIC + designs.key_id(master).encode("ascii") + aes_key_wrap(master, data_key) + nonce
            + AESGCM(data_key).encrypt(nonce, jpeg, _aad(order_id, name)))


def decrypt_photo(settings: Settings, order_id: str, name: str, blob: bytes) -> bytes:
    """The JPEG bytes of an encrypted photo file; InputError naming the problem when the key or file is wrong."""
    if blob[:4] != MAGIC or len(blob) < 4 + 16 + 40 + designs.NONCE_BYTES + designs.TAG_BYTES:
        raise InputError(f"photo {name} of order {order_id} is not a fabgrid photo file", code="photo.corrupt",
                         status=500)
    kid, wrapped = blob[4:20].decode("ascii", "replace"), blob[20:60]
    nonce, body = blob[60:60 + designs.NONCE_BYTES], blob[60 + designs.NONCE_BYTES:]
    data_key = designs.unwrap(designs.master_key(settings), wrapped, kid, f"photo {name} of order {order_id}")
    try:
        return AESGCM(data_key).decrypt(nonce, body, _aad(order_id, name))
    except InvalidTag:
        raise InputError(f"photo {name} of order {order_id} was altered or belongs elsewhere", code="photo.corrupt",
                         status=500) from None


def _write_encrypted(settings: Settings, folder: Path, order_id: str, name: str, jpeg: bytes) -> None:
    tmp = folder / (name + ENCRYPTED + ".part")
    tmp.write_bytes(encrypt_photo(settings, order_id, name, jpeg))
    tmp.replace(folder / (name + ENCRYPTED))


def _names(folder: Path) -> list[str]:
    """The photo names in `folder`: encrypted files and plaintext ones from before encryption."""
    if not folder.is_dir():
        return []
    found = {p.name.removesuffix(ENCRYPTED) for p in folder.iterdir()}
    return sorted(n for n in found if _NAME.match(n))


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
    existing = _names(folder)
    if len(existing) >= MAX_PHOTOS_PER_ORDER:
        raise LimitError(f"order {order_id} has {MAX_PHOTOS_PER_ORDER} photos already", code="photo.count")
    name = f"{len(existing) + 1:03d}.jpg"
    _write_encrypted(settings, folder, order_id, name, out.getvalue())
    return name


def list_photos(settings: Settings, who: Principal, order_id: str) -> list[str]:
    """The photo names of an order the caller may see (404 otherwise)."""
    orders.get_order(settings, who, order_id)
    return _names(_folder(settings, order_id))


def photo_bytes(settings: Settings, who: Principal, order_id: str, name: str) -> bytes:
    """One photo (JPEG bytes) of an order the caller may see."""
    orders.get_order(settings, who, order_id)
    folder = _folder(settings, order_id)
    if not _NAME.match(name):
        raise NotFoundError(f"photo {name!r} of order {order_id} not found", code="photo.not_found")
    sealed, plain = folder / (name + ENCRYPTED), folder / name
    if sealed.is_file():
        return decrypt_photo(settings, order_id, name, sealed.read_bytes())
    if plain.is_file():  # stored before photos were encrypted: encrypt it now, then drop the plaintext
        jpeg = plain.read_bytes()
        _write_encrypted(settings, folder, order_id, name, jpeg)
        plain.unlink()
        return jpeg
    raise NotFoundError(f"photo {name!r} of order {order_id} not found", code="photo.not_found")
