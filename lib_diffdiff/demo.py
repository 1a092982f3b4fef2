"""The offline demo: Differential Diffusion on a built-in picture with a denoiser that needs no weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .fan import annotate_fan
from .injection import CONTINUOUS, Injector
from .maps import MapOptions, prepare_change_map
from .params import Settings
from .presets import STRENGTH_FAN, preset_map
from .reference import PosteriorMeanDenoiser, builtin_images, karras_sigmas
from .schedule import ReleaseSchedule


def euler(model, x: torch.Tensor, sigmas: torch.Tensor) -> torch.Tensor:
    """k-diffusion's Euler sampler, kept here so the demo needs nothing beyond torch."""
    for sigma, sigma_next in zip(sigmas[:-1], sigmas[1:]):
        denoised = model(x, sigma.reshape(1))
        x = x + (x - denoised) / sigma * (sigma_next - sigma)
    return x


def horizontal_gradient(width: int, height: int) -> Image.Image:
    """White on the left, black on the right: with the paper's convention, keep left, change right."""
    row = np.linspace(255, 0, width).round().astype(np.uint8)
    return Image.fromarray(np.tile(row, (height, 1)), mode="L")


def schedule(steps: int) -> torch.Tensor:
    """The sigmas of a full-strength run: Karras, from well above the built-in pictures' [-1, 1] range."""
    return karras_sigmas(steps, sigma_max=20.0)


def seeded_noise(image: torch.Tensor, seed: int) -> torch.Tensor:
    return torch.randn(image.shape, generator=torch.Generator().manual_seed(seed))


def edit(
    image: torch.Tensor,
    change: torch.Tensor,
    denoiser,
    steps: int,
    noise: torch.Tensor,
    future_hinting: bool = True,
    release_rule: str = CONTINUOUS,
) -> torch.Tensor:
    """One img2img run at denoising strength 1 with a per-pixel change map; image is (B, C, H, W)."""
    sigmas = schedule(steps)
    release_schedule = ReleaseSchedule.from_sampler_sigmas(sigmas)
    injector = Injector(image, noise, change, release_schedule, future_hinting=future_hinting, release_rule=release_rule)
    return injector.finish(euler(injector.wrap(denoiser), image + noise * sigmas[0], sigmas))


def to_pil_gray(gray: torch.Tensor) -> Image.Image:
    return Image.fromarray((gray * 255).round().to(torch.uint8).numpy(), mode="L")


def to_pil(image: torch.Tensor) -> Image.Image:
    pixels = ((image[0].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).numpy()
    return Image.fromarray(pixels, mode="RGB")


def run(out: Path, size: int = 128, steps: int = 30, seed: int = 1) -> list[Path]:
    """Write into `out`: input, map, output and the plain img2img result (all-change map); the strength
    fan's map and its output labelled with each sector's strength; the reliability trends of every method.
    """
    from .bench import reliability  # the benchmark builds on this module's sampling

    out.mkdir(parents=True, exist_ok=True)
    scenes = builtin_images(17, size=size, seed=seed)
    image, denoiser = scenes[:1], PosteriorMeanDenoiser(scenes[1:], tile=16)
    noise = seeded_noise(image, seed)
    gradient = horizontal_gradient(size, size)
    change = prepare_change_map(gradient, size, size, (size, size), MapOptions())
    fan_settings = Settings(source=STRENGTH_FAN)
    fan = to_pil_gray(preset_map(STRENGTH_FAN, size, size, fan_settings))
    fan_change = prepare_change_map(fan, size, size, (size, size), fan_settings.map_options())
    fan_output = to_pil(edit(image, fan_change, denoiser, steps, noise)).resize((3 * size, 3 * size), Image.NEAREST)
    results = {
        "input.png": to_pil(image),
        "map.png": gradient,
        "output.png": to_pil(edit(image, change, denoiser, steps, noise)),
        "plain_img2img.png": to_pil(edit(image, torch.ones_like(change), denoiser, steps, noise)),
        "strength_fan.png": fan,
        "strength_fan_output.png": annotate_fan(fan_output, fan_settings),
        "trends.png": reliability(images=16, steps=steps, seed=seed).plot(),
    }
    written = []
    for name, picture in results.items():
        picture.save(out / name)
        written.append(out / name)
    return written
