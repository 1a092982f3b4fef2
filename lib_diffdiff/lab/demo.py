"""The offline demo: Differential Diffusion on a built-in picture with a denoiser that needs no weights.

The edit is one a person can follow by eye: the reference model's only idea of a clean picture is
the input recoloured into a sunset palette (`reference.sunset_palette`), give or take a little grain.
It is the exact posterior-mean denoiser of that belief, so a region released at a low noise level
keeps most of the input, one released at a high level becomes the recoloured picture, and everything
between blends smoothly: with a left-to-right map the change grows from left to right.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw
from tqdm import tqdm

from ..composite import composite
from ..fan import annotate_fan, fan_parts
from ..injection import CONTINUOUS, Injector
from ..maps import MapOptions, prepare_change_map
from ..params import Settings
from ..presets import STRENGTH_FAN, preset_map
from ..schedule import ReleaseSchedule
from ..text import paste_text
from .reference import PosteriorMeanDenoiser, builtin_images, karras_sigmas, linear_alphas_cumprod, sunset_palette, uniform_timestep_sigmas

SIZE = 288  # the demo picture's side in pixels (its "latent" is the picture itself)
SPREAD = 0.02  # the grain the reference edit allows around the recoloured picture, in [-1, 1] units
PANEL_NAME = "panel.png"
TRENDS_NAME = "trends.png"
COMPOSITE_NAME = "composite.png"
STEPS_NAME = "steps.png"
STEP_COUNTS = (1, 2, 4, 20)  # what few-step models run (SD Turbo 1; Lightning, Hyper, LCM, schnell 2 to 4) and a usual count
SHOWN_STRENGTHS = (0.25, 0.5, 0.75)
HOW_IT_WORKS = (
    "How it works: a pixel of change strength c",
    "takes part only in the last c share of the",
    "steps. Before that it is reset at every step",
    "to the input noised to that step's level, so",
    "the later it is released, the more of the",
    "input it keeps. Plain img2img gives every",
    "pixel the same strength.",
)


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


KARRAS = "karras"
UNIFORM = "uniform"
SCHEDULES = (KARRAS, UNIFORM)


def schedule(steps: int, kind: str = KARRAS) -> torch.Tensor:
    """The benchmark's sigmas of a full-strength run, from well above the built-in pictures' [-1, 1] range:
    Karras from 20 to 0.02, whose last step starts at its lowest level and so barely changes a picture, or
    SGM Uniform on Stable Diffusion's noise schedule (14.6 down), whose last step starts well above it."""
    if kind == UNIFORM:
        return uniform_timestep_sigmas(steps, linear_alphas_cumprod())
    return karras_sigmas(steps, sigma_max=20.0)


def demo_schedule(steps: int, kind: str = KARRAS) -> torch.Tensor:
    """`schedule` scaled to the demo edit's grain, as Stable Diffusion's levels (14.6 down to 0.03) are to
    its data: the noise levels then spread the release times over the whole visible range of the edit."""
    if kind == UNIFORM:
        return schedule(steps, UNIFORM) * (20 * SPREAD / 14.6)
    return karras_sigmas(steps, sigma_min=SPREAD / 5, sigma_max=20 * SPREAD)


def img2img_sigmas(sigmas: torch.Tensor, strength: float) -> torch.Tensor:
    """The tail of a full-strength schedule (ending in 0) that img2img at denoising `strength` runs: the
    last share of its steps, at least one, as in the WebUI."""
    steps = len(sigmas) - 1
    return sigmas[steps - max(1, round(steps * strength)) :]


def seeded_noise(image: torch.Tensor, seed: int) -> torch.Tensor:
    return torch.randn(image.shape, generator=torch.Generator().manual_seed(seed))


def demo_scene(seed: int) -> tuple[torch.Tensor, PosteriorMeanDenoiser, torch.Tensor]:
    """The demo's picture, its reference model (that picture recoloured into the sunset palette, give or
    take SPREAD of grain) and its noise, all from `seed`."""
    image = builtin_images(1, size=SIZE, seed=seed)
    return image, PosteriorMeanDenoiser(sunset_palette(image), tile=SIZE, spread=SPREAD), seeded_noise(image, seed)


def edit(
    image: torch.Tensor,
    change: torch.Tensor,
    denoiser,
    steps: int,
    noise: torch.Tensor,
    future_hinting: bool = True,
    sigmas: torch.Tensor | None = None,
    release_rule: str = CONTINUOUS,
) -> torch.Tensor:
    """One img2img run at denoising strength 1 with a per-pixel change map; image is (B, C, H, W).
    `sigmas` defaults to the benchmark's `schedule(steps)`."""
    sigmas = schedule(steps) if sigmas is None else sigmas
    release_schedule = ReleaseSchedule.from_sampler_sigmas(sigmas)
    injector = Injector(image, noise, change, release_schedule, future_hinting=future_hinting, release_rule=release_rule)
    return injector.finish(euler(injector.wrap(denoiser), image + noise * sigmas[0], sigmas))


def to_pil_gray(gray: torch.Tensor) -> Image.Image:
    return Image.fromarray((gray * 255).round().to(torch.uint8).numpy(), mode="L")


def to_pil(image: torch.Tensor) -> Image.Image:
    pixels = ((image[0].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).numpy()
    return Image.fromarray(pixels, mode="RGB")


def sector_change(output: Image.Image, full_edit: Image.Image, original: Image.Image, fan_settings: Settings) -> list[float]:
    """Each fan sector's mean change from `original`, as a share of the full edit's change there."""
    parts = fan_parts(original.width, original.height, fan_settings.fan_options()).numpy()
    pixels = {name: np.asarray(picture, dtype=np.float64) for name, picture in (("out", output), ("full", full_edit), ("in", original))}
    change = np.abs(pixels["out"] - pixels["in"]).mean(axis=-1)
    full = np.abs(pixels["full"] - pixels["in"]).mean(axis=-1)
    return [float(change[parts == part].mean() / full[parts == part].mean()) for part in range(fan_settings.fan_options().count)]


def make_pictures(steps: int = 30, seed: int = 1, progress: bool = False) -> dict:
    """The demo's pictures and measurements: input, map, Differential Diffusion, plain img2img (an
    all-change map), the strength fan's map and output, and each fan sector's share of the full edit."""
    image, denoiser, noise = demo_scene(seed)
    sigmas = demo_schedule(steps)
    gradient = horizontal_gradient(SIZE, SIZE)
    fan_settings = Settings(source=STRENGTH_FAN)
    fan = to_pil_gray(preset_map(STRENGTH_FAN, SIZE, SIZE, fan_settings))
    changes = {
        "output": prepare_change_map(gradient, SIZE, SIZE, (SIZE, SIZE), MapOptions()),
        "plain": torch.ones(SIZE, SIZE),
        "fan_output": prepare_change_map(fan, SIZE, SIZE, (SIZE, SIZE), fan_settings.map_options()),
    }
    pictures = {"input": to_pil(image), "map": gradient, "fan": fan, "fan_settings": fan_settings}
    for name, change in tqdm(changes.items(), desc="demo edits", unit="edit", disable=not progress):
        pictures[name] = to_pil(edit(image, change, denoiser, steps, noise, sigmas=sigmas))
    pictures["change"] = changes["output"]
    pictures["sector_change"] = sector_change(pictures["fan_output"], pictures["plain"], pictures["input"], fan_settings)
    pictures["steps"], pictures["seed"] = steps, seed
    return pictures


def bar_chart(values: list[float], labels: list[str], width: int, height: int) -> Image.Image:
    """Vertical bars of `values` in [0, 1], each with its percentage above and its label below."""
    chart = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(chart)
    top, bottom, slot = 30, height - 30, width / len(values)
    draw.line([(0, bottom), (width, bottom)], fill=(0, 0, 0))
    for index, (value, label) in enumerate(zip(values, labels)):
        left, right = index * slot + slot * 0.15, (index + 1) * slot - slot * 0.15
        bar_top = bottom - (bottom - top) * min(max(value, 0.0), 1.0)
        draw.rectangle([left, bar_top, right, bottom], fill=(214, 96, 40))
        paste_text(chart, f"{100 * value:.0f}%", ((left + right) / 2, bar_top - 4), anchor="mb")
        paste_text(chart, label, ((left + right) / 2, bottom + 6), anchor="mt")
    return chart


def panel(pictures: dict) -> Image.Image:
    """One labelled image: input, map, Differential Diffusion and plain img2img in a row; below them
    the strength fan, its output enlarged with each sector's strength, and the change measured per sector;
    last, a flat square with no fill and with noise fill (`pictures` also holds `fill_bench.fill_pictures`)."""
    margin, gap, caption = 16, 16, 50
    size = pictures["input"].width
    width = 2 * margin + 4 * size + 3 * gap
    title_height = 64
    row_2 = title_height + caption + size + gap
    height = row_2 + caption + 2 * size + gap + caption + size + margin
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    paste_text(canvas, "Differential Diffusion: every pixel changes as much as its map says", (width // 2, margin), anchor="mt", scale=2)
    paste_text(
        canvas,
        f"The edit: recolour into a sunset palette, by a weight-free analytic denoiser ({pictures['steps']} Euler steps, seed {pictures['seed']}).",
        (width // 2, margin + 32),
        anchor="mt",
    )

    def place(picture: Image.Image, x: int, y: int, title: str, note: str) -> None:
        paste_text(canvas, title, (x, y), scale=2)
        paste_text(canvas, note, (x, y + 28))
        canvas.paste(picture.convert("RGB"), (x, y + caption))

    columns = [margin + column * (size + gap) for column in range(4)]
    place(pictures["input"], columns[0], title_height, "input", "the picture to edit")
    place(pictures["map"], columns[1], title_height, "change map", "white keeps, black changes")
    place(pictures["output"], columns[2], title_height, "Differential Diffusion", "change grows with the map, left to right")
    place(pictures["plain"], columns[3], title_height, "plain img2img", "the same change everywhere (all-change map)")

    fan_settings = pictures["fan_settings"]
    enlarged = annotate_fan(pictures["fan_output"].resize((2 * size, 2 * size), Image.NEAREST), fan_settings)
    strengths = fan_settings.fan_options().strengths()
    place(pictures["fan"], columns[0], row_2, "strength fan", f"{len(strengths)} sectors, change {strengths[0]:g} to {strengths[-1]:g}")
    for line, text in enumerate(HOW_IT_WORKS):
        paste_text(canvas, text, (columns[0], row_2 + caption + size + gap + 18 * line))
    place(enlarged, columns[1], row_2, "Differential Diffusion on the fan", "each sector labelled with its change strength")
    chart_x = columns[1] + 2 * size + gap
    chart = bar_chart(pictures["sector_change"], [f"{strength:.1f}" for strength in strengths], width - margin - chart_x, 2 * size)
    place(chart, chart_x, row_2, "measured change", "per sector, share of plain img2img's")

    row_3 = row_2 + caption + 2 * size + gap
    place(pictures["fill_input"], columns[0], row_3, "flat square", "its middle flattened to one colour")
    place(pictures["fill_map"], columns[1], row_3, "change map", "the square changes, the rest is kept")
    setting = f"denoising {pictures['fill_strength']:g}, {pictures['fill_steps']} steps"
    place(pictures["fill_none"], columns[2], row_3, "fill: none", f"stays near flat ({setting})")
    place(pictures["fill_noise"], columns[3], row_3, "fill: noise", "new detail where the map changes")
    return canvas


def vae_round_trip(picture: Image.Image) -> Image.Image:
    """A stand-in for a VAE's decoding of a picture's own latent: detail finer than 4 pixels lost and
    colours shifted a little, as a real round trip loses fine detail and drifts in colour."""
    pixels = torch.from_numpy(np.asarray(picture, dtype=np.float32)).permute(2, 0, 1)[None]
    blurred = torch.nn.functional.interpolate(torch.nn.functional.avg_pool2d(pixels, 4), scale_factor=4, mode="bilinear")
    shifted = (blurred * 0.96 + 6.0).clamp(0, 255).round().to(torch.uint8)
    return Image.fromarray(shifted[0].permute(1, 2, 0).numpy(), mode="RGB")


def difference(picture: Image.Image, reference: Image.Image, gain: int = 4) -> Image.Image:
    """|picture - reference|, amplified, black where they are equal."""
    delta = np.abs(np.asarray(picture, dtype=np.int16) - np.asarray(reference, dtype=np.int16)).max(axis=-1)
    return Image.fromarray(np.clip(delta * gain, 0, 255).astype(np.uint8), mode="L")


def composite_figure(pictures: dict) -> Image.Image:
    """The demo's edit saved through a VAE-like round trip, without and with the composite, and each
    one's difference from the input: with the composite the kept side is the input exactly."""
    without = vae_round_trip(pictures["output"])
    with_composite = composite(without, pictures["input"], pictures["change"])
    kept = (pictures["change"] == 0).numpy()
    errors = [int(np.abs(np.asarray(p, dtype=np.int16) - np.asarray(pictures["input"], dtype=np.int16))[kept].max()) for p in (without, with_composite)]
    margin, gap, caption, size = 16, 16, 50, pictures["input"].width
    width, height = 2 * margin + 3 * size + 2 * gap, 64 + 2 * (caption + size) + gap + margin
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    paste_text(canvas, "Composite: kept pixels are the input in the saved picture", (width // 2, margin), anchor="mt", scale=2)
    paste_text(canvas, "The demo edit saved through a VAE-like round trip (4 px detail lost, colours shifted).", (width // 2, margin + 32), anchor="mt")
    tiles = [
        (pictures["map"], "change map", "white keeps, black changes"),
        (without, "without composite", f"kept side: the round trip (max error {errors[0]})"),
        (with_composite, "with composite", f"kept side: the input (max error {errors[1]})"),
        (pictures["input"], "input", "the picture to edit"),
        (difference(without, pictures["input"]), "difference, without", "from the input, x4"),
        (difference(with_composite, pictures["input"]), "difference, with", "from the input, x4: black is exact"),
    ]
    for index, (picture, title, note) in enumerate(tiles):
        x, y = margin + (index % 3) * (size + gap), 64 + (index // 3) * (caption + size + gap)
        paste_text(canvas, title, (x, y), scale=2)
        paste_text(canvas, note, (x, y + 28))
        canvas.paste(picture.convert("RGB"), (x, y + caption))
    return canvas


def strength_shares(output: Image.Image, full_edit: Image.Image, original: Image.Image, strengths=SHOWN_STRENGTHS) -> list[float]:
    """On a left-to-right gradient map (strength x / (width - 1) at column x): the change around each of
    `strengths`' columns (9 columns wide) as a share of the full edit's change there."""
    before = np.asarray(original, dtype=np.float64)
    change, full = (np.abs(np.asarray(picture, dtype=np.float64) - before).mean(axis=(0, 2)) for picture in (output, full_edit))
    columns = [round(strength * (original.width - 1)) for strength in strengths]
    return [float(change[c - 4 : c + 5].mean() / full[c - 4 : c + 5].mean()) for c in columns]


def step_count_pictures(seed: int = 1, progress: bool = False) -> dict:
    """The demo edit with the gradient map at each of STEP_COUNTS on both schedules, and the share of the
    full edit (an all-change map at the same steps) at SHOWN_STRENGTHS: (kind, steps) -> (picture, shares)."""
    image, denoiser, noise = demo_scene(seed)
    gradient = prepare_change_map(horizontal_gradient(SIZE, SIZE), SIZE, SIZE, (SIZE, SIZE), MapOptions())
    original, found = to_pil(image), {}
    cases = [(kind, steps) for kind in SCHEDULES for steps in STEP_COUNTS]
    for kind, steps in tqdm(cases, desc="step counts", unit="count", disable=not progress):
        sigmas = demo_schedule(steps, kind)
        output, full = (to_pil(edit(image, change, denoiser, steps, noise, sigmas=sigmas)) for change in (gradient, torch.ones(SIZE, SIZE)))
        found[kind, steps] = output, strength_shares(output, full, original)
    return found


def step_count_figure(found: dict) -> Image.Image:
    """The same map at each step count, one row per schedule, each picture with its measured shares."""
    margin, gap, caption, heading = 16, 16, 50, 30
    size = SIZE
    width = 2 * margin + len(STEP_COUNTS) * size + (len(STEP_COUNTS) - 1) * gap
    row_height = heading + caption + size + gap
    height = 64 + len(SCHEDULES) * row_height + margin
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    paste_text(canvas, "The same map at 1, 2, 4 and 20 steps", (width // 2, margin), anchor="mt", scale=2)
    paste_text(
        canvas,
        "The demo edit with the left-to-right gradient map (keep at left). Under each: the change at strengths "
        + ", ".join(f"{strength:g}" for strength in SHOWN_STRENGTHS)
        + " as a share of an all-change map's at the same steps.",
        (width // 2, margin + 32),
        anchor="mt",
    )
    headings = {
        KARRAS: "Karras: the last step starts at the lowest noise level and barely changes the picture",
        UNIFORM: "SGM Uniform: the last step starts well above the lowest level",
    }
    for row, kind in enumerate(SCHEDULES):
        y = 64 + row * row_height
        paste_text(canvas, headings[kind], (margin, y), scale=2)
        for column, steps in enumerate(STEP_COUNTS):
            picture, shares = found[kind, steps]
            x = margin + column * (size + gap)
            paste_text(canvas, f"{steps} step{'s' if steps > 1 else ''}", (x, y + heading), scale=2)
            measured = " / ".join(f"{100 * share:.0f}%" for share in shares)
            paste_text(canvas, f"at {' / '.join(f'{strength:g}' for strength in SHOWN_STRENGTHS)}: {measured}", (x, y + heading + 28))
            canvas.paste(picture, (x, y + heading + caption))
    return canvas
