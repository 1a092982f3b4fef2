"""Change maps: whatever the user gave, turned into one float channel of change strengths.

A change strength of 1 means "change this pixel as much as the job allows", 0 means "keep it".
The paper draws maps with white = keep; WebUI inpaint masks use white = change. Both are
accepted; everything after `to_change` works on change strengths only.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .errors import SettingsError
from .images import DEFAULT_MAX_PIXELS, open_image
from .setting import Setting

WHITE_KEEPS = "white keeps"
WHITE_CHANGES = "white changes"
CONVENTIONS = (WHITE_KEEPS, WHITE_CHANGES)

# The WebUI's img2img resize modes, in the order of its radio buttons (p.resize_mode is the index).
RESIZE_MODES = ("Just resize", "Crop and resize", "Resize and fill", "Just resize (latent upscale)")

LUMA = (0.299, 0.587, 0.114)  # ITU-R 601-2, what PIL's convert("L") uses


MapError = SettingsError  # the name it had before: code that catches MapError keeps working


MAP_SETTINGS: tuple[Setting, ...] = (
    Setting(
        "convention",
        "Convention",
        str,
        WHITE_KEEPS,
        "White keeps (the paper) or white changes (like inpaint masks)",
        "DiffDiff convention",
        choices=CONVENTIONS,
        sweepable=True,
        cli_flag="--convention",
    ),
    Setting("invert", "Invert", bool, False, "Swap keep and change", "DiffDiff invert", sweepable=True, cli_flag="--invert-map"),
    Setting(
        "blur",
        "Blur",
        float,
        0.0,
        "Soften the map's edges: Gaussian blur radius in pixels",
        "DiffDiff blur",
        0.0,
        64.0,
        0.5,
        sweepable=True,
        cli_flag="--map-blur",
    ),
    Setting(
        "contrast",
        "Contrast",
        float,
        1.0,
        "Push strengths away from (above 1) or towards (below 1) the middle",
        "DiffDiff contrast",
        0.0,
        4.0,
        0.05,
        sweepable=True,
        cli_flag="--map-contrast",
    ),
    Setting(
        "strength",
        "Strength scale",
        float,
        1.0,
        "Multiply every pixel's change strength",
        "DiffDiff strength",
        0.0,
        2.0,
        0.05,
        sweepable=True,
        cli_flag="--map-strength",
    ),
)
_MAP_SETTING = {setting.name: setting for setting in MAP_SETTINGS}


@dataclass(frozen=True)
class MapOptions:
    """How a raw grayscale map becomes change strengths; defaults and bounds are those of `MAP_SETTINGS`.

    Applied in this order: convention, invert, blur (pixels, at image size), contrast around 0.5,
    strength scale. Results are clamped to [0, 1].
    """

    convention: str = _MAP_SETTING["convention"].default
    invert: bool = _MAP_SETTING["invert"].default
    blur: float = _MAP_SETTING["blur"].default
    contrast: float = _MAP_SETTING["contrast"].default
    strength: float = _MAP_SETTING["strength"].default

    def __post_init__(self):
        for setting in MAP_SETTINGS:
            setting.check(getattr(self, setting.name))


def read_map(source, field: str = "map", max_pixels: int = DEFAULT_MAX_PIXELS) -> torch.Tensor:
    """Read a map as gray levels in [0, 1], shape (H, W), float32; white = 1.

    Accepts a path, encoded image bytes (both opened by `images.open_image`: PNG, JPEG or WebP), a
    PIL image of any mode, a numpy array or a torch tensor (uint8 is read as 0-255, uint16 as
    0-65535, bool as 0/1, floats must already lie in [0, 1]). Colour is reduced to luminance; an
    alpha channel is ignored. A map of more than `max_pixels` pixels is refused in every form.
    """
    if source is None:
        raise SettingsError(field, "no map was given")
    if isinstance(source, (str, os.PathLike, bytes, bytearray, memoryview)):
        source = open_image(source, field, max_pixels)
    if isinstance(source, Image.Image):
        values, channels_first = _pil_to_array(source, field, max_pixels), False
    elif isinstance(source, torch.Tensor):
        values, channels_first = source.detach().cpu().numpy(), True
    elif isinstance(source, np.ndarray):
        values, channels_first = source, False
    else:
        raise SettingsError(field, f"expected an image, a path, bytes, an array or a tensor, got {type(source).__name__}")
    return _from_array(values, field, channels_first, max_pixels)


def _pil_to_array(image: Image.Image, field: str, max_pixels: int) -> np.ndarray:
    if image.width == 0 or image.height == 0:
        raise SettingsError(field, "the image is empty (0 pixels)")
    _check_pixels(image.width, image.height, field, max_pixels)  # before converting a huge image
    if image.mode.startswith("I;16"):
        return np.asarray(image).astype(np.uint16)
    if image.mode == "I":
        values = np.asarray(image)
        if values.size and (values.min() < 0 or values.max() > 65535):
            raise SettingsError(field, "a mode-I image must hold 16-bit values (0-65535)")
        return values.astype(np.uint16)
    if image.mode == "F":
        return np.asarray(image, dtype=np.float32)
    if image.mode not in ("L", "RGB"):
        image = image.convert("RGB" if image.mode in ("RGBA", "P", "PA", "CMYK", "YCbCr", "LAB", "HSV", "RGBX") else "L")
    return np.asarray(image)


def _check_pixels(width: int, height: int, field: str, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise SettingsError(field, f"is larger than the limit of {max_pixels} pixels: it has {width}x{height} = {width * height} pixels")


def _from_array(values: np.ndarray, field: str, channels_first: bool, max_pixels: int) -> torch.Tensor:
    values = np.asarray(values)
    if values.ndim == 4 and values.shape[0] == 1:
        values = values[0]
    if values.ndim == 3:
        first, last = values.shape[0] in (1, 2, 3, 4), values.shape[-1] in (1, 2, 3, 4)
        if first and (channels_first or not last):
            values = np.moveaxis(values, 0, -1)
        elif not last:
            raise SettingsError(field, f"cannot tell the channels of an array of shape {tuple(values.shape)}")
    elif values.ndim != 2:
        raise SettingsError(field, f"expected a 2-D map (or one with 1-4 channels), got shape {tuple(values.shape)}")
    if values.size == 0:
        raise SettingsError(field, f"the map is empty (shape {tuple(values.shape)})")
    _check_pixels(values.shape[1], values.shape[0], field, max_pixels)
    gray = _to_unit_range(values, field)
    if gray.ndim == 3:
        channels = gray.shape[-1]
        gray = gray[..., 0] if channels <= 2 else gray[..., :3] @ np.asarray(LUMA, dtype=np.float32)
    return torch.from_numpy(np.ascontiguousarray(gray, dtype=np.float32))


def _to_unit_range(values: np.ndarray, field: str) -> np.ndarray:
    if values.dtype == np.bool_:
        return values.astype(np.float32)
    if values.dtype == np.uint8:
        return values.astype(np.float32) / 255.0
    if values.dtype == np.uint16:
        return values.astype(np.float32) / 65535.0
    if np.issubdtype(values.dtype, np.floating):
        values = values.astype(np.float32)
        if not np.isfinite(values).all():
            raise SettingsError(field, "the map contains NaN or infinite values")
        low, high = float(values.min()), float(values.max())
        if low < 0.0 or high > 1.0:
            raise SettingsError(field, f"float maps must lie in [0, 1], got values from {low:g} to {high:g}")
        return values
    raise SettingsError(field, f"unsupported value type {values.dtype}; use uint8, uint16, bool or floats in [0, 1]")


def fit_to_image(gray: torch.Tensor, width: int, height: int, resize_mode: int = 0) -> torch.Tensor:
    """Fit a (H, W) map to the init image's size the way the WebUI fits the init image itself."""
    if not 0 <= int(resize_mode) < len(RESIZE_MODES):
        raise SettingsError("resize_mode", f"must be 0-{len(RESIZE_MODES) - 1} ({', '.join(RESIZE_MODES)}), got {resize_mode!r}")
    if width < 1 or height < 1:
        raise SettingsError("size", f"the image size must be positive, got {width}x{height}")
    src_h, src_w = gray.shape
    mode = int(resize_mode)
    if mode in (0, 3) or (src_w, src_h) == (width, height):
        return _resize(gray, width, height)
    ratio, src_ratio = width / height, src_w / src_h
    if mode == 1:  # crop and resize: cover, then cut the overflow evenly
        new_w = width if ratio > src_ratio else src_w * height // src_h
        new_h = height if ratio <= src_ratio else src_h * width // src_w
        resized = _resize(gray, new_w, new_h)
        top, left = (new_h - height) // 2, (new_w - width) // 2
        return resized[top : top + height, left : left + width]
    # resize and fill: fit inside, then stretch the edge rows or columns into the borders
    new_w = width if ratio < src_ratio else src_w * height // src_h
    new_h = height if ratio >= src_ratio else src_h * width // src_w
    resized = _resize(gray, new_w, new_h)
    top, left = height // 2 - new_h // 2, width // 2 - new_w // 2
    pad = (left, width - new_w - left, top, height - new_h - top)
    return F.pad(resized[None, None], pad, mode="replicate")[0, 0]


def _resize(gray: torch.Tensor, width: int, height: int) -> torch.Tensor:
    if gray.shape == (height, width):
        return gray
    resized = F.interpolate(gray[None, None], size=(height, width), mode="bilinear", align_corners=False, antialias=True)
    return resized[0, 0].clamp(0.0, 1.0)


def to_change(gray: torch.Tensor, options: MapOptions) -> torch.Tensor:
    """Gray levels at image size -> change strengths, applying every option."""
    change = 1.0 - gray if options.convention == WHITE_KEEPS else gray
    if options.invert:
        change = 1.0 - change
    if options.blur > 0:
        change = gaussian_blur(change, options.blur)
    if options.contrast != 1.0:
        change = 0.5 + (change - 0.5) * options.contrast
    if options.strength != 1.0:
        change = change * options.strength
    return change.clamp(0.0, 1.0)


def gaussian_blur(plane: torch.Tensor, radius: float) -> torch.Tensor:
    """Separable Gaussian blur with standard deviation `radius` pixels, edges replicated."""
    half = max(1, int(math.ceil(3.0 * radius)))
    offsets = torch.arange(-half, half + 1, dtype=torch.float32, device=plane.device)
    kernel = torch.exp(-0.5 * (offsets / radius) ** 2)
    kernel = kernel / kernel.sum()
    image = plane[None, None].float()
    image = F.conv2d(F.pad(image, (half, half, 0, 0), mode="replicate"), kernel.view(1, 1, 1, -1))
    image = F.conv2d(F.pad(image, (0, 0, half, half), mode="replicate"), kernel.view(1, 1, -1, 1))
    return image[0, 0]


def to_latent(change: torch.Tensor, latent_height: int, latent_width: int) -> torch.Tensor:
    """Average change strengths over the image area each latent pixel covers."""
    return F.interpolate(change[None, None], size=(latent_height, latent_width), mode="area")[0, 0]


def prepare_change_map(
    source,
    width: int,
    height: int,
    latent_size: tuple[int, int],
    options: MapOptions = MapOptions(),
    resize_mode: int = 0,
    field: str = "map",
) -> torch.Tensor:
    """The whole path from a user's map to latent-size change strengths, shape (h, w)."""
    fitted = fit_to_image(read_map(source, field), width, height, resize_mode)
    return to_latent(to_change(fitted, options), *latent_size)


def map_hash(gray: torch.Tensor) -> str:
    """A short, stable fingerprint of a map's pixels, so a result can be matched to its map."""
    quantised = (gray.detach().cpu().float().clamp(0, 1) * 65535).round().to(torch.int32).numpy().astype("<u2")
    digest = hashlib.sha256(np.asarray(quantised.shape, dtype="<u4").tobytes() + quantised.tobytes())
    return digest.hexdigest()[:10]
