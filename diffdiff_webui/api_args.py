"""Script arguments as the WebUI and its HTTP API deliver them, parsed strictly into `Settings`.

The WebUI calls a script with its arguments positionally, in UI order (the order of `SETTINGS`).
The HTTP API copies a request's `args` list element by element over the UI defaults, so a request
with `"args": [{"enabled": true, "map": "<base64>"}]` arrives as that dict followed by defaults.
Both forms are accepted here; every error is a `SettingsError` whose `field` names the setting at fault,
which the HTTP layer can turn into a 4xx answer.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import string
import threading
from collections import OrderedDict
from dataclasses import replace
from typing import Any

import numpy as np
import torch
from PIL import Image

from lib_diffdiff.errors import SettingsError
from lib_diffdiff.images import DEFAULT_MAX_PIXELS, open_image
from lib_diffdiff.params import UPLOAD, Settings

_DATA_URL = re.compile(r"data:([^,]*),", re.IGNORECASE)
_BASE64_ALPHABET = frozenset(string.ascii_letters + string.digits + "+/=")


def decode_image(value: Any, field: str = "map", max_pixels: int = DEFAULT_MAX_PIXELS):
    """Turn a map as the API or the UI hands it over into something `maps.read_map` reads.

    - A string is base64 (whitespace and line breaks allowed, otherwise strict), optionally behind a
      `data:image/...;base64,` prefix, of a PNG, JPEG or WebP; it is opened by `images.open_image`
      (format, pixel cap from the header, EXIF orientation) into a loaded PIL image.
    - A dict from a gradio sketch component (`{"image": ..., "mask": ...}`) yields its image.
    - PIL images and numpy arrays (what gradio's Image component gives a script), tensors and None
      are returned unchanged: they are already decoded, and read_map checks them.
    """
    if isinstance(value, dict):
        if "image" not in value:
            raise SettingsError(field, f"expected an image or a dict with an 'image' entry, got a dict with {sorted(value)}")
        value = value["image"]
    if value is None or isinstance(value, (Image.Image, np.ndarray, torch.Tensor)):
        return value
    if not isinstance(value, str):
        raise SettingsError(field, f"expected a base64-encoded PNG, JPEG or WebP string, got {type(value).__name__}")
    key = (hashlib.sha256(value.encode()).digest(), max_pixels)
    with _RECENT_LOCK:
        image = _RECENT.get(key)
        if image is not None:
            _RECENT.move_to_end(key)
            return image
    image = open_image(_base64_payload(value, field), field, max_pixels)
    with _RECENT_LOCK:
        _RECENT[key] = image
        while len(_RECENT) > _RECENT_LIMIT:
            _RECENT.popitem(last=False)
    return image


# The API's route check decodes a request's map, then the job parses the arguments the WebUI rebuilt
# from the same request (with the UI's defaults appended, so its Settings may differ, but not its
# map); an XYZ grid parses one map again for every cell. The last maps decoded are kept so that each
# is decoded once; callers only read them (read_map copies what it converts).
_RECENT: OrderedDict[tuple[bytes, int], Image.Image] = OrderedDict()
_RECENT_LIMIT = 2
_RECENT_LOCK = threading.Lock()


def _base64_payload(text: str, field: str) -> bytes:
    text = text.strip()
    if text.lower().startswith(("http://", "https://")):
        raise SettingsError(field, "URLs are not fetched; send the image itself, base64-encoded")
    if text[:5].lower() == "data:":
        prefix = _DATA_URL.match(text)
        if prefix is None or not prefix.group(1).lower().startswith("image/") or not prefix.group(1).lower().endswith(";base64"):
            raise SettingsError(field, "a data URL must look like data:image/png;base64,<data>")
        text = text[prefix.end() :]
    text = "".join(text.split())
    if not text:
        raise SettingsError(field, "is empty; send a base64-encoded PNG, JPEG or WebP")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as error:
        stray = next((char for char in text if char not in _BASE64_ALPHABET), None)
        reason = f"{stray!r} is not a base64 character" if stray else str(error)
        raise SettingsError(field, f"is not valid base64: {reason}") from None


def parse_script_args(args, max_pixels: int = DEFAULT_MAX_PIXELS) -> Settings:
    """The script's arguments, in any form the WebUI or its API delivers them, as validated Settings.

    Accepted: values in UI order (the `SETTINGS` order; fewer than all is fine), a dict of settings
    by name, or a list whose first element is such a dict (the API's named form; the elements after
    it are the UI defaults the API left in place and are ignored). Strings from JSON are read for
    booleans and numbers as `Setting.parse` reads them.

    Every setting is validated, enabled or not. The map is decoded (see `decode_image`) only when
    the job is enabled: a disabled job never fails on, or pays for, its map. Enabled with source
    "upload" and no map raises SettingsError("map", ...). Sources "inpaint mask" and the presets need no
    map; one given anyway is still decoded, since an XYZ sweep over sources may use it.
    """
    if isinstance(args, (list, tuple)) and args and isinstance(args[0], dict):
        args = args[0]
    if isinstance(args, dict):
        settings = Settings.from_values(args)
    elif isinstance(args, (list, tuple)):
        settings = Settings.from_positional(args)
    else:
        raise SettingsError("args", f"expected a list of values in UI order or an object of settings by name, got {type(args).__name__}")
    if not settings.enabled:
        return settings
    decoded = decode_image(settings.map, "map", max_pixels)
    if decoded is None and settings.source == UPLOAD:
        raise SettingsError(
            "map", f"Differential Diffusion is on with source {UPLOAD!r} but no map was given; give a map or choose another source"
        )
    return replace(settings, map=decoded)
