"""Reference models that need no weights: exact posterior-mean denoisers of small built-in data.

If clean latents are made of tiles drawn from a Gaussian mixture around the tiles of a small image
bank, the ideal denoiser has a closed form: E[x0 | x0 + sigma * n = x] is a softmax-weighted
average of each component's posterior mean. Like a trained model it keeps detail at low noise and
commits to content at high noise, and applied tile by tile it changes an image locally, so it can
stand in for a latent diffusion model in tests, the demo and the reliability benchmark.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..maps import LUMA


class PosteriorMeanDenoiser:
    """k-diffusion style denoiser `(x, sigma) -> x0` for data tiled from `bank_images`.

    `bank_images` is (K, C, H, W) at the latent size it will denoise. Each `tile` x `tile` block of
    the input is denoised independently against the K blocks found at the same place in the bank
    (so skies stay at the top and ground at the bottom), each widened by Gaussian `spread`.
    """

    def __init__(self, bank_images: torch.Tensor, tile: int = 8, spread: float = 0.05):
        if bank_images.ndim != 4:
            raise ValueError("bank_images must be (K, C, H, W)")
        self.tile = tile
        self.spread = spread
        self.size = tuple(bank_images.shape[-2:])
        self.bank = _tiles(bank_images.float(), tile).transpose(0, 1).contiguous()  # (L, K, D)
        self._bank_sq = (self.bank * self.bank).sum(-1)  # (L, K)

    def to(self, device) -> PosteriorMeanDenoiser:
        self.bank, self._bank_sq = self.bank.to(device), self._bank_sq.to(device)
        return self

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, scale=1.0, **_) -> torch.Tensor:
        """E[x0 | x], for x = scale * x0 + sigma * n (scale 1: k-diffusion; 1 - sigma: rectified flow)."""
        batch, _, height, width = x.shape
        if (height, width) != self.size:
            raise ValueError(f"latent size {height}x{width} differs from the bank's {self.size[0]}x{self.size[1]}")
        sigma = torch.as_tensor(sigma, device=x.device, dtype=torch.float32).reshape(-1, 1, 1).expand(batch, 1, 1)
        scale = torch.as_tensor(scale, device=x.device, dtype=torch.float32).reshape(-1, 1, 1).expand(batch, 1, 1)
        queries = _tiles(x.float(), self.tile)  # (B, L, D)
        cross = torch.einsum("bld,lkd->blk", queries, self.bank)
        distance = (queries * queries).sum(-1, keepdim=True) - 2 * scale * cross + scale * scale * self._bank_sq
        variance = sigma * sigma + scale * scale * self.spread**2
        weights = torch.softmax(-distance / (2 * variance), dim=-1)
        centre = torch.einsum("blk,lkd->bld", weights, self.bank)
        gain = self.spread**2 / variance * scale  # component posterior: mu + gain * (x - scale * mu)
        denoised = gain * queries + (1 - gain * scale) * centre
        return _untile(denoised, height, width, self.tile).to(x.dtype)


def _tiles(images: torch.Tensor, tile: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, L, C * tile * tile): the non-overlapping tiles, row by row (as F.unfold orders
    them, without its slow general im2col)."""
    batch, channels, height, width = images.shape
    blocks = images.reshape(batch, channels, height // tile, tile, width // tile, tile)
    return blocks.permute(0, 2, 4, 1, 3, 5).reshape(batch, (height // tile) * (width // tile), channels * tile * tile)


def _untile(tiles: torch.Tensor, height: int, width: int, tile: int) -> torch.Tensor:
    """The inverse of `_tiles`."""
    batch = tiles.shape[0]
    blocks = tiles.reshape(batch, height // tile, width // tile, -1, tile, tile)
    return blocks.permute(0, 3, 1, 4, 2, 5).reshape(batch, -1, height, width)


def as_noise_predictor(denoiser, alphas_cumprod: torch.Tensor):
    """The same model as a DDPM noise predictor `(x_t, t) -> eps`, for timestep samplers."""
    from ..schedule import timestep_to_sigma

    def predict_noise(x, timestep, **kwargs):
        sigma = timestep_to_sigma(torch.as_tensor(timestep, device=x.device), alphas_cumprod).reshape(-1, 1, 1, 1)
        scale = (1 + sigma * sigma).sqrt()  # 1 / sqrt(alpha)
        clean = denoiser(x * scale, sigma.flatten(), **kwargs)
        return (x * scale - clean) / sigma

    return predict_noise


def as_flow_denoiser(denoiser):
    """The same model for rectified-flow latents x = (1 - s) x0 + s n, called as k-diffusion samplers
    call SD3 or Flux: with sigma = s, returning the predicted x0. Exact also at s = 1 (pure noise)."""

    def denoise(x, s, **kwargs):
        s = torch.as_tensor(s, device=x.device, dtype=torch.float32)
        return denoiser(x, s, scale=1 - s, **kwargs)

    return denoise


def karras_sigmas(steps: int, sigma_min: float = 0.02, sigma_max: float = 20.0, rho: float = 7.0) -> torch.Tensor:
    """The Karras et al. schedule with a final 0, as k-diffusion's get_sigmas_karras builds it."""
    ramp = torch.linspace(0, 1, steps)
    inv_min, inv_max = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    sigmas = (inv_max + ramp * (inv_min - inv_max)) ** rho
    return torch.cat([sigmas, sigmas.new_zeros([1])])


def uniform_timestep_sigmas(steps: int, alphas_cumprod: torch.Tensor) -> torch.Tensor:
    """The WebUI's "SGM Uniform" schedule with a final 0: timesteps evenly spaced from the top down, the
    last a step above 0 (so the last step starts well above the model's lowest level, unlike Karras's)."""
    from ..schedule import timestep_to_sigma

    top = alphas_cumprod.numel() - 1
    sigmas = timestep_to_sigma(torch.linspace(top, 0, steps + 1)[:-1], alphas_cumprod)
    return torch.cat([sigmas, sigmas.new_zeros([1])])


def linear_alphas_cumprod(steps: int = 1000, beta_start: float = 0.00085, beta_end: float = 0.012) -> torch.Tensor:
    """Stable Diffusion's "scaled linear" DDPM noise schedule."""
    betas = torch.linspace(beta_start**0.5, beta_end**0.5, steps, dtype=torch.float64) ** 2
    return torch.cumprod(1 - betas, 0).float()


def shifted_flow_sigmas(shift: float = 3.0, steps: int = 1000) -> torch.Tensor:
    """A discrete rectified-flow schedule, ascending: t = 1/steps .. 1 shifted towards noise as in SD3
    (Esser et al. 2024): s = shift * t / (1 + (shift - 1) * t). SD3 uses shift 3."""
    t = torch.arange(1, steps + 1, dtype=torch.float64) / steps
    return (shift * t / (1 + (shift - 1) * t)).float()


def builtin_images(count: int, size: int = 64, seed: int = 0) -> torch.Tensor:
    """`count` procedural RGB scenes in [-1, 1], shape (count, 3, size, size): skies, suns, hills, blocks."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:size, 0:size] / (size - 1)
    images = []
    for _ in range(count):
        top, bottom = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
        image = top[:, None, None] * (1 - rows) + bottom[:, None, None] * rows
        centre, radius = rng.uniform(0.2, 0.8, 2), rng.uniform(0.08, 0.2)
        sun = (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 < radius**2
        image = np.where(sun, rng.uniform(0.5, 1, 3)[:, None, None], image)
        phase, height, wave = rng.uniform(0, 2 * math.pi), rng.uniform(0.55, 0.8), rng.uniform(2, 6)
        hill = rows > height + 0.08 * np.sin(2 * math.pi * wave * cols / 2 + phase)
        image = np.where(hill, rng.uniform(0, 0.7, 3)[:, None, None] * (0.7 + 0.3 * rows), image)
        for _ in range(rng.integers(1, 4)):
            (r0, c0), (h, w) = rng.uniform(0, 0.8, 2), rng.uniform(0.08, 0.3, 2)
            block = (rows >= r0) & (rows < r0 + h) & (cols >= c0) & (cols < c0 + w)
            stripes = (np.floor(cols * size / rng.integers(2, 6)) % 2)[None] * rng.uniform(0, 0.3)
            image = np.where(block, rng.uniform(0, 1, 3)[:, None, None] - stripes, image)
        images.append(np.clip(image, 0, 1))
    return torch.from_numpy(np.stack(images)).float() * 2 - 1


SUNSET = ((0.10, 0.02, 0.25), (0.55, 0.05, 0.45), (0.95, 0.35, 0.15), (1.0, 0.85, 0.35), (1.0, 1.0, 0.85))  # dark to light


def sunset_palette(images: torch.Tensor) -> torch.Tensor:
    """`images` (B, 3, H, W) in [-1, 1] recoloured by brightness into a sunset palette (purple shadows,
    orange middles, pale yellow lights): the same shapes in new colours, the demo's reference edit."""
    rgb = (images + 1) / 2
    brightness = (torch.tensor(LUMA).to(images)[None, :, None, None] * rgb).sum(1).clamp(0, 1)  # (B, H, W)
    stops = torch.tensor(SUNSET, dtype=images.dtype, device=images.device)
    position = brightness * (len(SUNSET) - 1)
    lower = position.floor().long().clamp(max=len(SUNSET) - 2)
    blend = (position - lower)[..., None]
    colours = stops[lower] * (1 - blend) + stops[lower + 1] * blend  # (B, H, W, 3)
    return colours.permute(0, 3, 1, 2) * 2 - 1

