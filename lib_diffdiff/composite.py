"""Kept means kept in the saved picture: the decoded result composited over the original by the map.

A kept pixel's latent is the original's, but the saved picture is the VAE's decoding of it, a round
trip that blurs fine detail and shifts colour. Blending the result over the original with the
original's alpha (1 - c)^2 makes every pixel of strength 0 the original bit for bit, and fades the
original out faster than linearly, so a region of mid strength keeps most of the change the map
gave it (`benchmarks/composite_alpha.py` measures the shapes against each other).
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from .errors import SettingsError
from .maps import MapOptions, fit_to_image, read_map, to_change


def keep_alpha(change: torch.Tensor) -> Image.Image:
    """The original's alpha in the composite: 255 where the change strength is 0, falling as (1 - c)^2."""
    keep = (1.0 - change.clamp(0.0, 1.0)).square().numpy()
    return Image.fromarray(np.round(keep * 255.0).astype(np.uint8), "L")


def original_overlay(original: Image.Image, change: torch.Tensor, alpha=keep_alpha) -> Image.Image:
    """The original picture (RGBA) with `alpha(change)` as its alpha, to be alpha-composited over a result."""
    mask = alpha(change)
    if original.size != mask.size:
        raise SettingsError("map", f"the composite needs the original at {mask.size}, got {original.size}")
    overlay = original.convert("RGB")
    overlay.putalpha(mask)
    return overlay


def composite(result: Image.Image, original: Image.Image, change: torch.Tensor) -> Image.Image:
    """`result` with `original` laid over it by the change strengths `change` (H, W) at the result's size."""
    picture = result.convert("RGBA")
    picture.alpha_composite(original_overlay(original, change))
    return picture.convert("RGB")


def composite_by_map(result: Image.Image, original: Image.Image, change_map, options: MapOptions) -> Image.Image:
    """The runners' composite: the map stretched to the result's size, as the pipeline stretched it; `original`
    is the input picture at that size."""
    width, height = result.size
    change = to_change(fit_to_image(read_map(change_map, "map"), width, height, 0), options)
    return composite(result, original, change)
