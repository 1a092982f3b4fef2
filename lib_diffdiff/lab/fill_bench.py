"""The fill benchmark: new content in a flat region the map changes, on the weight-free reference model.

Built-in pictures whose middle quarter is flattened to its mean colour, a map that changes that square
fully and keeps the rest, edited at several denoising strengths and step counts with each fill, over
several seeds. The reference model is the reliability benchmark's (the posterior mean of a bank of
pictures, tile by tile), so "new content" is detail like the bank's: a flat start near the flat
colour stays flat, a start that has left it becomes one of the bank's tiles.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from PIL import Image
from tqdm import tqdm

from ..fill import FILLS, filled_original
from .bench import reference_scene
from .demo import SIZE as DEMO_SIZE
from .demo import edit, img2img_sigmas, schedule, to_pil, to_pil_gray

SIZE = 64


@dataclass(frozen=True)
class FillRow:
    fill: str
    strength: float
    steps: int
    change: float  # mean |output - input| in the square, in [0, 2] pixel units
    detail: float  # mean horizontal step in the square, as a share of the unflattened pictures' there
    spread: float  # mean standard deviation over seeds in the square
    kept_error: float  # largest |output - input| where the map keeps


def flat_square(pictures: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The pictures with their middle quarter set to its mean colour, and the map that changes only that square."""
    start, stop = SIZE // 4, 3 * SIZE // 4
    flat = pictures.clone()
    square = flat[..., start:stop, start:stop]
    flat[..., start:stop, start:stop] = square.mean(dim=(-2, -1), keepdim=True)
    change = torch.zeros(SIZE, SIZE)
    change[start:stop, start:stop] = 1.0
    return flat, change


def fill_edit(image, change, denoiser, steps: int, strength: float, noise, fill: str, seeds: list[int]) -> torch.Tensor:
    """img2img at `strength` (the last share of `steps` Euler steps) with the map and the fill."""
    sigmas = img2img_sigmas(schedule(steps), strength)
    return edit(filled_original(image, change, fill, seeds), change, denoiser, steps, noise, sigmas=sigmas)  # starts from the fill


def horizontal_detail(pictures: torch.Tensor) -> torch.Tensor:
    return (pictures[..., 1:] - pictures[..., :-1]).abs().mean()


def fill_benchmark(
    images: int = 8, strengths=(0.5, 0.75, 1.0), step_counts=(4, 20), seeds=(0, 1, 2, 3), fills=FILLS, progress: bool = False
) -> list[FillRow]:
    denoiser, originals = reference_scene(images, SIZE)
    flat, change = flat_square(originals)
    inside = change.bool()
    square = slice(SIZE // 4, 3 * SIZE // 4)
    reference_detail = horizontal_detail(originals[..., square, square])
    rows = []
    cases = [(fill, strength, steps) for fill in fills for strength in strengths for steps in step_counts]
    for fill, strength, steps in tqdm(cases, desc="fill", unit="case", disable=not progress):
        outputs = []
        for seed in seeds:
            noise = torch.randn(flat.shape, generator=torch.Generator().manual_seed(seed))
            sample_seeds = [1000 * seed + index for index in range(images)]
            outputs.append(fill_edit(flat, change, denoiser, steps, strength, noise, fill, sample_seeds))
        stacked = torch.stack(outputs)  # (seeds, B, C, H, W)
        moved = (stacked - flat).abs()
        rows.append(
            FillRow(
                fill,
                strength,
                steps,
                float(moved[..., inside].mean()),
                float(horizontal_detail(stacked[..., square, square]) / reference_detail),
                float(stacked[..., inside].std(dim=0).mean()),
                float(moved[..., ~inside].max()),
            )
        )
    return rows


def table(rows: list[FillRow]) -> str:
    """A Markdown table, one row per fill, strength and step count."""
    lines = ["| fill | denoising | steps | change in the square | detail (share of the unflattened) | spread over seeds | kept error |", "|---|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(
            f"| {row.fill} | {row.strength:g} | {row.steps} | {row.change:.3f} | {row.detail:.2f} | {row.spread:.3f} | {row.kept_error:g} |"
        )
    return "\n".join(lines)


def fill_pictures(seed: int, steps: int = 20, strength: float = 0.5) -> dict:
    """The fill benchmark's first picture, its middle square flattened and changed by the map, edited
    with no fill and with noise fill (denoising `strength`), enlarged to the demo's size."""
    denoiser, pictures = reference_scene(1, SIZE)
    flat, change = flat_square(pictures)
    noise = torch.randn(flat.shape, generator=torch.Generator().manual_seed(seed))
    enlarge = lambda picture: to_pil(picture).resize((DEMO_SIZE, DEMO_SIZE), Image.NEAREST)
    found = {"fill_input": enlarge(flat), "fill_map": to_pil_gray(1 - change).resize((DEMO_SIZE, DEMO_SIZE), Image.NEAREST)}
    for fill in ("none", "noise"):
        found[f"fill_{fill}"] = enlarge(fill_edit(flat, change, denoiser, steps, strength, noise, fill, [seed]))
    found["fill_steps"], found["fill_strength"] = steps, strength
    return found
