"""Script arguments as the WebUI and its HTTP API deliver them, parsed strictly into `Settings`.

The WebUI calls a script with its arguments positionally, in UI order (the order of `SETTINGS`).
The HTTP API copies a request's `args` list element by element over the UI defaults, so a request
with `"args": [{"enabled": true, "map": "<base64>"}]` arrives as that dict followed by defaults.
Both forms are accepted here; every error is a `MapError` whose `field` names the setting at fault,
which the HTTP layer can turn into a 4xx answer.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import string
from dataclasses import replace
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps

from .maps import MapError
from .params import UPLOAD, Settings

# 8192 x 8192 (64 MP) covers the largest phone-camera photos (48-50 MP) a map may have been drawn
# on, while bounding what one request can cost: read_map's float copy of an RGB map this size is
# about 0.8 GB. It lies below Pillow's own bomb warning (about 89 MP), so ours decides first.
DEFAULT_MAX_PIXELS = 8192 * 8192

ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP")
_FORMAT_NAMES = {"PNG": "PNG", "JPEG": "JPEG", "MPO": "JPEG", "WEBP": "WebP"}  # MPO: multi-picture JPEG from cameras
_DATA_URL = re.compile(r"data:([^,]*),", re.IGNORECASE)
_EXIF_ORIENTATION = 0x0112
_BASE64_ALPHABET = frozenset(string.ascii_letters + string.digits + "+/=")


def decode_image(value: Any, field: str = "map", max_pixels: int = DEFAULT_MAX_PIXELS):
    """Turn a map as the API or the UI hands it over into something `maps.read_map` reads.

    - A string is base64 (whitespace and line breaks allowed, otherwise strict), optionally behind a
      `data:image/...;base64,` prefix, of a PNG, JPEG or WebP; it is returned as a loaded PIL image
      with its EXIF orientation applied, as the WebUI does for init images, so map and image align.
      The pixel count is read from the header and checked against `max_pixels` before any pixel
      data is decoded, so a small file that claims a huge size costs nothing. Pillow's own
      decompression-bomb error (and its warning, where warnings are errors) becomes a MapError too;
      our cap still holds where Pillow's is off (the XYZ plot sets `Image.MAX_IMAGE_PIXELS = None`).
    - A dict from a gradio sketch component (`{"image": ..., "mask": ...}`) yields its image.
    - PIL images and numpy arrays (what gradio's Image component gives a script), tensors and None
      are returned unchanged: they are already decoded, and read_map checks them.
    """
    if isinstance(value, dict):
        if "image" not in value:
            raise MapError(field, f"expected an image or a dict with an 'image' entry, got a dict with {sorted(value)}")
        value = value["image"]
    if value is None or isinstance(value, (Image.Image, np.ndarray, torch.Tensor)):
        return value
    if not isinstance(value, str):
        raise MapError(field, f"expected a base64-encoded PNG, JPEG or WebP string, got {type(value).__name__}")
    return _open_encoded(_base64_payload(value, field), field, max_pixels)


def _base64_payload(text: str, field: str) -> bytes:
    text = text.strip()
    if text.lower().startswith(("http://", "https://")):
        raise MapError(field, "URLs are not fetched; send the image itself, base64-encoded")
    if text[:5].lower() == "data:":
        prefix = _DATA_URL.match(text)
        if prefix is None or not prefix.group(1).lower().startswith("image/") or not prefix.group(1).lower().endswith(";base64"):
            raise MapError(field, "a data URL must look like data:image/png;base64,<data>")
        text = text[prefix.end() :]
    text = "".join(text.split())
    if not text:
        raise MapError(field, "is empty; send a base64-encoded PNG, JPEG or WebP")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as error:
        stray = next((char for char in text if char not in _BASE64_ALPHABET), None)
        reason = f"{stray!r} is not a base64 character" if stray else str(error)
        raise MapError(field, f"is not valid base64: {reason}") from None


def _open_encoded(data: bytes, field: str, max_pixels: int) -> Image.Image:
    too_large = f"is larger than the limit of {max_pixels} pixels"
    try:
        image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise MapError(field, f"{too_large} ({error})") from None
    except Exception:  # UnidentifiedImageError, or a plugin failing on a cut-off header (OSError, struct.error)
        raise MapError(field, _describe_unreadable(data)) from None
    width, height = image.size
    if width * height == 0:
        raise MapError(field, f"the image is empty ({width}x{height} pixels)")
    if width * height > max_pixels:
        raise MapError(field, f"{too_large}: its header says {width}x{height} = {width * height} pixels")
    kind = _FORMAT_NAMES[image.format]
    try:
        image.load()
    except Exception as error:  # Pillow's decoders raise OSError, SyntaxError, EOFError, zlib or struct errors
        raise MapError(field, f"the {kind} data is truncated or corrupt ({error})") from None
    if image.getexif().get(_EXIF_ORIENTATION, 1) != 1:
        image = ImageOps.exif_transpose(image)
    return image


def _describe_unreadable(data: bytes) -> str:
    """Why bytes that none of the accepted decoders read are refused, naming what they seem to be."""
    kind = _accepted_kind_by_signature(data)
    if kind:
        return f"the {kind} data is corrupt or describes an empty image"
    try:
        with Image.open(io.BytesIO(data)) as other:  # header only: just to name the format
            found = other.format
    except Exception:  # any plugin failing on any bytes: there is nothing to name
        found = None
    if found:
        return f"{found} images are not accepted; send PNG, JPEG or WebP"
    return "the decoded data is not an image; send PNG, JPEG or WebP"


def _accepted_kind_by_signature(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    return None


def parse_script_args(args, max_pixels: int = DEFAULT_MAX_PIXELS) -> Settings:
    """The script's arguments, in any form the WebUI or its API delivers them, as validated Settings.

    Accepted: values in UI order (the `SETTINGS` order; fewer than all is fine), a dict of settings
    by name, or a list whose first element is such a dict (the API's named form; the elements after
    it are the UI defaults the API left in place and are ignored). Strings from JSON are read for
    booleans and numbers as `Setting.parse` reads them.

    Every setting is validated, enabled or not. The map is decoded (see `decode_image`) only when
    the job is enabled: a disabled job never fails on, or pays for, its map. Enabled with source
    "upload" and no map raises MapError("map", ...). Sources "inpaint mask" and the presets need no
    map; one given anyway is still decoded, since an XYZ sweep over sources may use it.
    """
    if isinstance(args, (list, tuple)) and args and isinstance(args[0], dict):
        args = args[0]
    if isinstance(args, dict):
        settings = Settings.from_values(args)
    elif isinstance(args, (list, tuple)):
        settings = Settings.from_positional(args)
    else:
        raise MapError("args", f"expected a list of values in UI order or an object of settings by name, got {type(args).__name__}")
    if not settings.enabled:
        return settings
    decoded = decode_image(settings.map, "map", max_pixels)
    if decoded is None and settings.source == UPLOAD:
        raise MapError(
            "map", f"Differential Diffusion is on with source {UPLOAD!r} but no map was given; give a map or choose another source"
        )
    return replace(settings, map=decoded)
