"""The reliability benchmark: the paper's score R for Differential Diffusion and its baselines.

Every method edits the same pictures with the same noise and steps, once with the horizontal
gradient map G and once with the all-change map xi (with noise of its own, as two independent runs
of a stochastic method), on the weight-free reference model: the exact posterior-mean denoiser of a
bank of built-in pictures, applied on 8 x 8 tiles of a 64 x 64 "latent" (Stable Diffusion's latent
size at 512 pixels), so an edit stays where the map puts it. The steps follow one of two schedules:
Karras (the default), whose last step starts at the lowest noise level and so barely changes a
picture, or SGM Uniform on Stable Diffusion's noise schedule, whose last step starts well above it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from ..injection import STEPPED
from ..maps import MapOptions, to_change
from .demo import KARRAS, SCHEDULES, edit, euler, img2img_sigmas, schedule
from .metrics import all_change_map, gradient_map, normalised_trend, pearson
from .plot import plot_trends
from .reference import PosteriorMeanDenoiser, builtin_images

BANK_SIZE = 32
TILE = 8


def reference_scene(images: int, size: int = 64, seed: int = 0) -> tuple[PosteriorMeanDenoiser, torch.Tensor]:
    """The benchmarks' reference model, over a bank of BANK_SIZE built-in pictures, and `images` other
    built-in pictures to edit, all from `seed`."""
    pictures = builtin_images(BANK_SIZE + images, size=size, seed=seed)
    return PosteriorMeanDenoiser(pictures[:BANK_SIZE], tile=TILE), pictures[BANK_SIZE:]


def img2img(image: torch.Tensor, denoiser, sigmas: torch.Tensor, noise: torch.Tensor, strength: float) -> torch.Tensor:
    """Plain img2img at denoising `strength`, from the picture noised to the first level it runs."""
    sigmas = img2img_sigmas(sigmas, strength)
    return euler(denoiser, image + noise * sigmas[0], sigmas)


def soft_blend(image: torch.Tensor, change: torch.Tensor, denoiser, sigmas: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Soft-inpainting style: at every step the prediction is blended with the picture by the map."""
    blended = lambda x, sigma: change * denoiser(x, sigma) + (1 - change) * image
    return euler(blended, image + noise * sigmas[0], sigmas)


def differential(image, change, denoiser, sigmas: torch.Tensor, noise, **options) -> torch.Tensor:
    """Differential Diffusion over the steps of `sigmas` (`options`: `demo.edit`'s)."""
    return edit(image, change, denoiser, len(sigmas) - 1, noise, sigmas=sigmas, **options)


# Each method edits (image, change map, model, the steps' sigmas ending in 0, noise).
Method = Callable[[torch.Tensor, torch.Tensor, object, torch.Tensor, torch.Tensor], torch.Tensor]

METHODS: dict[str, Method] = {
    "Differential Diffusion": differential,
    "DD, stepped release": lambda image, change, model, sigmas, noise: differential(
        image, change, model, sigmas, noise, release_rule=STEPPED
    ),
    "DD without future hinting": lambda image, change, model, sigmas, noise: differential(
        image, change, model, sigmas, noise, future_hinting=False
    ),
    "img2img, strength 0.5": lambda image, change, model, sigmas, noise: img2img(image, model, sigmas, noise, 0.5),
    # Changed part regenerated, kept part replaced by the noised picture at every step (Blended
    # Latent Diffusion, WebUI inpainting): exactly the injection of a 0/1 map.
    "img2img, binary mask": lambda image, change, model, sigmas, noise: differential(image, (change >= 0.5).float(), model, sigmas, noise),
    "soft-inpainting blend": soft_blend,
}


@dataclass(frozen=True)
class Reliability:
    """R and the normalised trend tau_hat of each method."""

    scores: dict[str, float]
    trends: dict[str, np.ndarray]
    images: int
    steps: int
    seed: int
    schedule_kind: str

    def table(self) -> str:
        """A Markdown table of R per method."""
        rows = [f"| {name} | {score:.3f} |" for name, score in self.scores.items()]
        return "\n".join(["| method | R |", "|---|---|", *rows])

    def plot(self):
        labels = {name: f"{name}\nR = {score:.3f}" for name, score in self.scores.items()}
        title = f"Normalised trends, {self.images} pictures, {self.steps} steps ({self.schedule_kind} schedule)"
        return plot_trends(self.trends, labels, title, "column (gradient map: keep at left, change at right)", "tau_hat")


def reliability(
    images: int = 32,
    steps: int = 20,
    seed: int = 0,
    size: int = 64,
    methods: dict[str, Method] = METHODS,
    progress: bool = False,
    schedule_kind: str = KARRAS,
) -> Reliability:
    """Score each method on `images` built-in pictures over `steps` steps of the `schedule_kind` schedule
    (one of SCHEDULES); the reference model's bank comes from the same seed. `progress` shows a progress bar
    of the methods' runs on stderr."""
    if images < 1:
        raise ValueError(f"--images: need at least 1 picture, got {images}")
    if steps < 1:
        raise ValueError(f"--steps: need at least 1 step, got {steps}")
    if schedule_kind not in SCHEDULES:
        raise ValueError(f"--schedule: must be one of {', '.join(SCHEDULES)}, got {schedule_kind!r}")
    if size < TILE * 2 or size % TILE:
        raise ValueError(f"size: must be a multiple of {TILE}, at least {2 * TILE}, got {size}")
    denoiser, originals = reference_scene(images, size, seed)
    generator = torch.Generator().manual_seed(seed)
    noise_gradient = torch.randn(originals.shape, generator=generator)
    noise_all_change = torch.randn(originals.shape, generator=generator)
    change_gradient = to_change(gradient_map(size, size), MapOptions())
    change_all = to_change(all_change_map(size, size), MapOptions())
    sigmas = schedule(steps, schedule_kind)
    scores, trends = {}, {}
    for name, method in tqdm(methods.items(), desc="reliability", unit="method", disable=not progress):
        trend = normalised_trend(
            method(originals, change_gradient, denoiser, sigmas, noise_gradient),
            method(originals, change_all, denoiser, sigmas, noise_all_change),
            originals,
        )
        scores[name], trends[name] = pearson(trend, np.arange(size)), trend
    return Reliability(scores, trends, images, steps, seed, schedule_kind)
