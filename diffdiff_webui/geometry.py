"""A job's change map in the job's own geometry: fitted, cropped and resized the way img2img treats the init image.

Pure functions of PIL images and tensors plus the job's geometry, so the WebUI glue stays thin.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np
import torch
from PIL import Image

from lib_diffdiff.errors import SettingsError
from lib_diffdiff.maps import WHITE_CHANGES, fit_to_image, map_hash, read_map, to_change, to_latent
from lib_diffdiff.params import INPAINT_MASK, UPLOAD, Settings
from lib_diffdiff.presets import preset_map

RESIZE_AND_FILL = 2  # how "only masked" inpainting scales its crop to the job size


@dataclass(frozen=True)
class Geometry:
    """Where the job's pixels come from: the full picture, an optional crop of it, and the job size.

    `crop` is (left, top, right, bottom) in full-picture pixels, as `paste_to` describes it for
    "only masked" inpainting; the full picture is then the init image at its own size.
    """

    full_width: int
    full_height: int
    width: int
    height: int
    resize_mode: int = 0
    crop: tuple[int, int, int, int] | None = None

    @classmethod
    def of_job(cls, p) -> Geometry:
        if getattr(p, "paste_to", None):
            x, y, w, h = p.paste_to
            full_width, full_height = p.init_images[0].size
            return cls(full_width, full_height, p.width, p.height, RESIZE_AND_FILL, (x, y, x + w, y + h))
        return cls(p.width, p.height, p.width, p.height, p.resize_mode)


@dataclass(frozen=True)
class JobMap:
    """The change strengths of one job: at full-picture size (for the soft composite) and at latent size."""

    change_full: torch.Tensor  # (full_height, full_width)
    change_latent: torch.Tensor  # (h, w)
    hash: str


def source_gray(settings: Settings, geometry: Geometry, image_mask=None, mask_options=None) -> torch.Tensor:
    """The map as gray levels at full-picture size, before any option is applied."""
    if settings.source == UPLOAD:
        gray = read_map(settings.map, "map")
        mode = 0 if geometry.crop else geometry.resize_mode
        return fit_to_image(gray, geometry.full_width, geometry.full_height, mode)
    if settings.source == INPAINT_MASK:
        if image_mask is None:
            raise SettingsError("source", "map source 'inpaint mask' needs an inpaint mask; draw or upload one, or pick another source")
        gray = soft_mask(image_mask, **(mask_options or {}))
        mode = 0 if geometry.crop else geometry.resize_mode
        return fit_to_image(gray, geometry.full_width, geometry.full_height, mode)
    return preset_map(settings.source, geometry.full_width, geometry.full_height, settings)


def job_map(settings: Settings, geometry: Geometry, latent_size: tuple[int, int], image_mask=None, mask_options=None) -> JobMap:
    """Change strengths for the job; an inpaint mask is read as white = change whatever the convention."""
    gray = source_gray(settings, geometry, image_mask, mask_options)
    options = settings.map_options()
    if settings.source == INPAINT_MASK:
        options = replace(options, convention=WHITE_CHANGES)
    change_full = to_change(gray, options)
    change_job = change_full
    if geometry.crop:
        left, top, right, bottom = geometry.crop
        change_job = fit_to_image(change_full[top:bottom, left:right], geometry.width, geometry.height, RESIZE_AND_FILL)
    elif change_full.shape != (geometry.height, geometry.width):
        change_job = fit_to_image(change_full, geometry.width, geometry.height, 0)
    digest = uploaded_map_hash(settings.map) if settings.source == UPLOAD else map_hash(gray)
    return JobMap(change_full, to_latent(change_job, *latent_size), digest)


def uploaded_map_hash(image) -> str:
    """The `DiffDiff map` hash of an uploaded map: of the map as uploaded, not as fitted to the job, so the
    page can tell whether a newly uploaded map is the one a pasted generation used."""
    return map_hash(read_map(image, "map"))


def soft_mask(image_mask: Image.Image, invert: bool = False, blur_x: float = 0.0, blur_y: float = 0.0) -> torch.Tensor:
    """An inpaint mask as the WebUI reads it (alpha of a transparent RGBA, else luminance), never rounded,
    and blurred on its 8-bit levels exactly as the WebUI blurs it (`blurred_mask_levels`), so the map keeps
    every pixel entirely where the WebUI's own blurred mask is 0 and changes it fully where that is 255."""
    if image_mask.mode == "RGBA" and image_mask.getextrema()[-1] != (255, 255):
        image_mask = image_mask.split()[-1]
    levels = np.asarray(image_mask.convert("L"))
    if invert:
        levels = 255 - levels
    return read_map(blurred_mask_levels(levels, blur_x, blur_y), "mask")


def blurred_mask_levels(levels: np.ndarray, blur_x: float = 0.0, blur_y: float = 0.0) -> np.ndarray:
    """The WebUI's mask blur: OpenCV's Gaussian on the 8-bit mask, first across (sigma `blur_x`), then
    down (sigma `blur_y`), each with a kernel of 2 * int(2.5 sigma + 0.5) + 1 taps. OpenCV rounds after
    each pass, so a float blur differs from it by a level here and there, which at the mask's edge would
    turn a pixel the WebUI leaves alone into one changed by 1/255 (OpenCV ships with the WebUI)."""
    for sigma, across in ((blur_x, True), (blur_y, False)):
        if sigma > 0:
            taps = 2 * int(2.5 * sigma + 0.5) + 1
            levels = cv2.GaussianBlur(np.ascontiguousarray(levels), (taps, 1) if across else (1, taps), sigma)
    return levels


def linear_keep_alpha(change_full: torch.Tensor) -> Image.Image:
    """Soft inpainting's alpha for the original when the composite setting is off (as jobs were made
    before it existed): 1 - c, 255 where the map keeps a pixel entirely."""
    keep = (1.0 - change_full).clamp(0.0, 1.0).numpy()
    return Image.fromarray(np.round(keep * 255.0).clip(0, 255).astype(np.uint8), "L")
