"""The one image decoder: every encoded image we are handed (API base64, bytes, files from the CLI or
the library) is opened here, under the same rules.

- Only PNG, JPEG and WebP are read: the formats a map is drawn and sent in, and the decoders the
  WebUI's own image handling exercises; anything else is refused by name.
- The pixel count is read from the header and checked against `max_pixels` before any pixel data is
  decoded, so a small file that claims a huge size costs nothing. Pillow's own decompression-bomb
  error (and its warning, where warnings are errors) is reported the same way; our cap still holds
  where Pillow's is off (the XYZ plot sets `Image.MAX_IMAGE_PIXELS = None`).
- The EXIF orientation is applied, as the WebUI does for init images, so map and image align.
"""

from __future__ import annotations

import io
import os
from typing import BinaryIO

from PIL import Image, ImageOps

from .errors import SettingsError

# 8192 x 8192 (64 MP) covers the largest phone-camera photos (48-50 MP) a map may have been drawn
# on, while bounding what one map can cost: read_map's float copy of an RGB map this size is about
# 0.8 GB. It lies below Pillow's own bomb warning (about 89 MP), so ours decides first.
DEFAULT_MAX_PIXELS = 8192 * 8192

ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP")
_FORMAT_NAMES = {"PNG": "PNG", "JPEG": "JPEG", "MPO": "JPEG", "WEBP": "WebP"}  # MPO: multi-picture JPEG from cameras
_EXIF_ORIENTATION = 0x0112


def open_image(source, field: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Encoded image bytes, or a path to a file of them, as a loaded PIL image (EXIF orientation applied)."""
    if isinstance(source, (str, os.PathLike)):
        try:
            with open(source, "rb") as file:
                data = file.read()
        except OSError as error:
            raise SettingsError(field, f"cannot read image file {os.fspath(source)!r}: {error.strerror or error}") from None
    else:
        data = bytes(source)
    image = _open_header(io.BytesIO(data), field, max_pixels)
    try:
        image.load()
    except Exception as error:  # Pillow's decoders raise OSError, SyntaxError, EOFError, zlib or struct errors
        raise SettingsError(field, f"the {_FORMAT_NAMES[image.format]} data is truncated or corrupt ({error})") from None
    if image.getexif().get(_EXIF_ORIENTATION, 1) != 1:
        image = ImageOps.exif_transpose(image)
    return image


def check_image_file(path, field: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
    """Refuse a file `open_image` would refuse for its format or size, reading its header only."""
    try:
        with open(path, "rb") as file:
            _open_header(file, field, max_pixels).close()
    except OSError as error:
        raise SettingsError(field, f"cannot read image file {os.fspath(path)!r}: {error.strerror or error}") from None


def _open_header(file: BinaryIO, field: str, max_pixels: int) -> Image.Image:
    too_large = f"is larger than the limit of {max_pixels} pixels"
    try:
        image = Image.open(file, formats=ACCEPTED_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise SettingsError(field, f"{too_large} ({error})") from None
    except Exception:  # UnidentifiedImageError, or a plugin failing on a cut-off header (OSError, struct.error)
        raise SettingsError(field, _describe_unreadable(file)) from None
    width, height = image.size
    if width * height == 0:
        raise SettingsError(field, f"the image is empty ({width}x{height} pixels)")
    if width * height > max_pixels:
        raise SettingsError(field, f"{too_large}: its header says {width}x{height} = {width * height} pixels")
    return image


def _describe_unreadable(file: BinaryIO) -> str:
    """Why data that none of the accepted decoders read is refused, naming what it seems to be."""
    file.seek(0)
    kind = _accepted_kind_by_signature(file.read(16))
    if kind:
        return f"the {kind} data is corrupt or describes an empty image"
    file.seek(0)
    try:
        with Image.open(file) as other:  # header only: just to name the format
            found = other.format
    except Exception:  # any plugin failing on any bytes: there is nothing to name
        found = None
    if found:
        return f"{found} images are not accepted; send PNG, JPEG or WebP"
    return "the data is not an image; send PNG, JPEG or WebP"


def _accepted_kind_by_signature(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    return None
