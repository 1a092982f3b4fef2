"""Change maps: whatever the user gave, turned into one float channel of change strengths.

A change strength of 1 means "change this pixel as much as the job allows", 0 means "keep it".
The paper draws maps with white = keep; WebUI inpaint masks use white = change. Both are
accepted; everything after `to_change` works on change strengths only.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError

WHITE_KEEPS = "white keeps"
WHITE_CHANGES = "white changes"
CONVENTIONS = (WHITE_KEEPS, WHITE_CHANGES)

# The WebUI's img2img resize modes, in the order of its radio buttons (p.resize_mode is the index).
RESIZE_MODES = ("Just resize", "Crop and resize", "Resize and fill", "Just resize (latent upscale)")

LUMA = (0.299, 0.587, 0.114)  # ITU-R 601-2, what PIL's convert("L") uses


class MapError(ValueError):
    """A change map or one of its options is unusable; `field` names the setting at fault."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class MapOptions:
    """How a raw grayscale map becomes change strengths.

    Applied in this order: convention, invert, blur (pixels, at image size), contrast around 0.5,
    strength scale. Results are clamped to [0, 1].
    """

    convention: str = WHITE_KEEPS
    invert: bool = False
    blur: float = 0.0
    contrast: float = 1.0
    strength: float = 1.0

    def __post_init__(self):
        if self.convention not in CONVENTIONS:
            raise MapError("convention", f"must be one of {list(CONVENTIONS)}, got {self.convention!r}")
        for name, low in (("blur", 0.0), ("contrast", 0.0), ("strength", 0.0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise MapError(name, f"must be a number, got {type(value).__name__}")
            if not math.isfinite(value) or value < low:
                raise MapError(name, f"must be a finite number >= {low}, got {value!r}")


def read_map(source, field: str = "map") -> torch.Tensor:
    """Read a map as gray levels in [0, 1], shape (H, W), float32; white = 1.

    Accepts a path, encoded image bytes, a PIL image of any mode, a numpy array or a torch tensor
    (uint8 is read as 0-255, uint16 as 0-65535, bool as 0/1, floats must already lie in [0, 1]).
    Colour is reduced to luminance; an alpha channel is ignored.
    """
    if source is None:
        raise MapError(field, "no map was given")
    if isinstance(source, (str, os.PathLike)):
        try:
            with Image.open(source) as image:
                image.load()
                return read_map(image, field)
        except (OSError, UnidentifiedImageError) as error:
            raise MapError(field, f"cannot read image file {os.fspath(source)!r}: {error}") from None
    if isinstance(source, (bytes, bytearray, memoryview)):
        try:
            image = Image.open(io.BytesIO(bytes(source)))
            image.load()
        except (OSError, UnidentifiedImageError, ValueError) as error:
            raise MapError(field, f"the bytes are not a readable image: {error}") from None
        return read_map(image, field)
    if isinstance(source, Image.Image):
        return _from_array(_pil_to_array(source, field), field, channels_first=False)
    if isinstance(source, torch.Tensor):
        return _from_array(source.detach().cpu().numpy(), field, channels_first=True)
    if isinstance(source, np.ndarray):
        return _from_array(source, field, channels_first=False)
    raise MapError(field, f"expected an image, a path, bytes, an array or a tensor, got {type(source).__name__}")


def _pil_to_array(image: Image.Image, field: str) -> np.ndarray:
    if image.width == 0 or image.height == 0:
        raise MapError(field, "the image is empty (0 pixels)")
    if image.mode.startswith("I;16"):
        return np.asarray(image).astype(np.uint16)
    if image.mode == "I":
        values = np.asarray(image)
        if values.size and (values.min() < 0 or values.max() > 65535):
            raise MapError(field, "a mode-I image must hold 16-bit values (0-65535)")
        return values.astype(np.uint16)
    if image.mode == "F":
        return np.asarray(image, dtype=np.float32)
    if image.mode not in ("L", "RGB"):
        image = image.convert("RGB" if image.mode in ("RGBA", "P", "PA", "CMYK", "YCbCr", "LAB", "HSV", "RGBX") else "L")
    return np.asarray(image)


def _from_array(values: np.ndarray, field: str, channels_first: bool) -> torch.Tensor:
    values = np.asarray(values)
    if values.ndim == 4 and values.shape[0] == 1:
        values = values[0]
    if values.ndim == 3:
        first, last = values.shape[0] in (1, 2, 3, 4), values.shape[-1] in (1, 2, 3, 4)
        if first and (channels_first or not last):
            values = np.moveaxis(values, 0, -1)
        elif not last:
            raise MapError(field, f"cannot tell the channels of an array of shape {tuple(values.shape)}")
    elif values.ndim != 2:
        raise MapError(field, f"expected a 2-D map (or one with 1-4 channels), got shape {tuple(values.shape)}")
    if values.size == 0:
        raise MapError(field, f"the map is empty (shape {tuple(values.shape)})")
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
            raise MapError(field, "the map contains NaN or infinite values")
        low, high = float(values.min()), float(values.max())
        if low < 0.0 or high > 1.0:
            raise MapError(field, f"float maps must lie in [0, 1], got values from {low:g} to {high:g}")
        return values
    raise MapError(field, f"unsupported value type {values.dtype}; use uint8, uint16, bool or floats in [0, 1]")


def fit_to_image(gray: torch.Tensor, width: int, height: int, resize_mode: int = 0) -> torch.Tensor:
    """Fit a (H, W) map to the init image's size the way the WebUI fits the init image itself."""
    if not 0 <= int(resize_mode) < len(RESIZE_MODES):
        raise MapError("resize_mode", f"must be 0-{len(RESIZE_MODES) - 1} ({', '.join(RESIZE_MODES)}), got {resize_mode!r}")
    if width < 1 or height < 1:
        raise MapError("size", f"the image size must be positive, got {width}x{height}")
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
