"""New content where the map says change: a fill of the original, weighted by the map.

A released pixel sets off from the original noised to its release level, so where the original is
flat the model has nothing to grow. A fill replaces the original that changed pixels are held at and
set off from (never a kept pixel: the weight is 0 at strength 0) by a blend toward
- `noise`: fresh seeded noise, so the model invents detail, as the WebUI's "latent noise" does for a
  binary mask;
- `blur fill`: the colours of the surroundings the map keeps (a blur of the original weighted by how
  much each pixel is kept), as the WebUI's "fill" does for inpainting.
The weight is c^2 for a pixel of change strength c (`python -m lib_diffdiff bench fill` measures it):
full at 1, a quarter at 0.5, so a region the map only touches up keeps most of its own content.
"""

from __future__ import annotations

import torch

from .maps import gaussian_blur

NONE = "none"
NOISE = "noise"
BLUR_FILL = "blur fill"
FILLS = (NONE, NOISE, BLUR_FILL)
SURROUNDINGS_RADIUS = 0.125  # of the latent's longer side: far enough to reach across a filled region's middle


def fill_weight(change: torch.Tensor) -> torch.Tensor:
    """How far a pixel of change strength c is filled: c^2."""
    return change.clamp(0.0, 1.0).square()


def seeded_noise(shape: tuple, seeds: list[int], device=None, dtype=None) -> torch.Tensor:
    """Standard normal noise of `shape` (B, ...), sample b drawn from `seeds[b % len(seeds)]` on the CPU, so
    a fill is the same on every device."""
    generators = [torch.Generator().manual_seed(int(seeds[b % len(seeds)])) for b in range(shape[0])]
    samples = [torch.randn(shape[1:], generator=generator) for generator in generators]
    return torch.stack(samples).to(device=device, dtype=dtype)


def surroundings(original: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Each pixel's colour as the kept pixels around it have it: a Gaussian blur of original x keep over
    the blur of keep; beyond the blur's reach, the mean colour of the kept pixels (with nothing kept,
    of the whole picture)."""
    height, width = original.shape[-2:]
    radius = SURROUNDINGS_RADIUS * max(height, width)
    filled = torch.empty_like(original, dtype=torch.float32)
    for b in range(original.shape[0]):
        kept = keep[b % keep.shape[0], 0].float()
        weight = gaussian_blur(kept, radius)
        reached, kept_total = weight > 1e-6, kept.sum()
        for c in range(original.shape[1]):
            plane = original[b, c].float()
            far = (plane * kept).sum() / kept_total if kept_total > 0 else plane.mean()
            filled[b, c] = torch.where(reached, gaussian_blur(plane * kept, radius) / weight.clamp_min(1e-6), far)
    return filled.to(original.dtype)


def filled_original(original: torch.Tensor, change: torch.Tensor, fill: str, seeds: list[int]) -> torch.Tensor:
    """The original blended toward `fill` by each pixel's fill weight; `original` itself for `none`.
    `original` is (B, C, h, w), `change` (h, w) or (B or 1, 1, h, w), `seeds` one per sample (for `noise`)."""
    if fill not in FILLS:
        raise ValueError(f"fill must be one of {list(FILLS)}, got {fill!r}")
    if fill == NONE:
        return original
    change = change.to(device=original.device, dtype=torch.float32)
    change = change.view(1, 1, *change.shape) if change.ndim == 2 else change
    if fill == NOISE:
        target = seeded_noise(tuple(original.shape), seeds, original.device, original.dtype)
    else:
        target = surroundings(original, 1.0 - change)
    weight = fill_weight(change).to(original.dtype)
    return original + weight * (target - original)
