"""Benchmark (not a test): each runner against diffusers' plain img2img pipeline at equal steps.

Tiny random-weight pipelines (tests/tiny_pipelines.py), so the UNet is cheap and the engine's share
of the time is as large as it gets; real models make the ratio closer still to 1. Runs alternate
between plain and Differential Diffusion; the medians are compared, and the minima (the runs a busy
machine disturbed least). The engine's own time
(inside its step callbacks, map preparation included) is also measured directly, as a share of the
Differential Diffusion run: on a busy machine that share is steadier than the ratio.

    python benchmarks/runners.py [--steps 20] [--repeats 7] [--threads 1] [--runners sd3 flux]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import tiny_pipelines as tiny  # noqa: E402

from lib_diffdiff.runners import DeepFloydIF, Flux, Kandinsky22, StableDiffusion, StableDiffusion3, StableDiffusionXL  # noqa: E402
from lib_diffdiff.runners.core import DifferentialRun  # noqa: E402

HEIGHT, WIDTH = 64, 96
RUNNER_NAMES = ["sd", "sdxl", "kandinsky", "sd3", "flux", "if"]


def picture():
    return Image.fromarray((np.random.default_rng(0).random((HEIGHT, WIDTH, 3)) * 255).astype(np.uint8))


def gradient_map():
    """Keep on the left, change on the right: every release position occurs."""
    return np.tile(np.linspace(255, 0, WIDTH, dtype=np.float64).astype(np.uint8), (HEIGHT, 1))


def seeded():
    return torch.Generator().manual_seed(0)


def cases(steps):
    """name -> (plain call, Differential Diffusion call), both at `steps` steps and strength 1."""
    image, change = picture(), gradient_map()
    sd = tiny.stable_diffusion()
    sd_text = tiny.text_embeddings()
    xl, xl_embeddings = tiny.stable_diffusion_xl()
    kandinsky, image_embeddings = tiny.kandinsky_22()
    stage_1, stage_2, if_text = tiny.deepfloyd_if()
    sd3, flux, flow_text = tiny.stable_diffusion_3(), tiny.flux(), tiny.flow_text_embeddings()
    common = dict(num_inference_steps=steps, strength=1.0, output_type="latent")
    runner_common = dict(steps=steps, strength=1.0, seed=0)

    def if_plain():
        small = stage_1(image=image, num_inference_steps=steps, strength=1.0, generator=seeded(), output_type="pt", **if_text).images
        stage_2(image=small, original_image=image, num_inference_steps=steps, strength=1.0, generator=seeded(), output_type="pt", **if_text)

    return {
        "sd": (
            lambda: sd(image=image, generator=seeded(), **common, **sd_text),
            lambda: StableDiffusion(sd)(image, change, output_type="latent", **runner_common, **sd_text),
        ),
        "sdxl": (
            lambda: xl(image=image, generator=seeded(), guidance_scale=5.0, **common, **xl_embeddings),
            lambda: StableDiffusionXL(xl)(image, change, output_type="latent", **runner_common, **xl_embeddings),
        ),
        "kandinsky": (
            lambda: kandinsky(image=image, generator=seeded(), width=HEIGHT, height=WIDTH, **common, **image_embeddings),
            lambda: Kandinsky22(kandinsky)(
                image, change, width=WIDTH, height=HEIGHT, output_type="latent", **runner_common, **image_embeddings
            ),
        ),
        "sd3": (
            lambda: sd3(image=image, height=HEIGHT, width=WIDTH, generator=seeded(), guidance_scale=7.0, **common, **flow_text),
            lambda: StableDiffusion3(sd3)(image, change, output_type="latent", **runner_common, **flow_text),
        ),
        "flux": (
            lambda: flux(image=image, height=HEIGHT, width=WIDTH, generator=seeded(), guidance_scale=3.5, **common, **flow_text),
            lambda: Flux(flux)(image, change, output_type="latent", **runner_common, **flow_text),
        ),
        "if": (
            if_plain,
            lambda: DeepFloydIF(stage_1, stage_2)(image, change, stage_2_steps=steps, output_type="pt", **runner_common, **if_text),
        ),
    }


class EngineClock:
    """Adds up the time spent in Differential Diffusion's step callbacks."""

    def __init__(self):
        self.seconds = 0.0
        self._on_step = DifferentialRun.on_step
        clock = self

        def on_step(run, *args):
            start = time.perf_counter()
            clock._on_step(run, *args)
            clock.seconds += time.perf_counter() - start

        DifferentialRun.on_step = on_step


def timed(call):
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 keeps timings steady on a shared machine)")
    parser.add_argument("--runners", nargs="+", choices=RUNNER_NAMES, default=RUNNER_NAMES, help="which runners to time (default: all)")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    clock = EngineClock()
    columns = f"{'runner':<10} {'plain s':>9} {'with DD s':>10} {'ratio':>7} {'min ratio':>10} {'engine share':>13}"
    print(f"{columns}  ({args.steps} steps, {args.repeats} runs)")
    with torch.no_grad():
        for name, (plain, differential) in cases(args.steps).items():
            if name not in args.runners:
                continue
            plain(), differential()  # warm-up
            plain_times, dd_times = [], []
            clock.seconds = 0.0
            for _ in tqdm(range(args.repeats), desc=name, unit="pair", leave=False):
                plain_times.append(timed(plain))
                dd_times.append(timed(differential))
            plain_s, dd_s = statistics.median(plain_times), statistics.median(dd_times)
            share = clock.seconds / sum(dd_times)
            least = min(dd_times) / min(plain_times)
            print(f"{name:<10} {plain_s:>9.4f} {dd_s:>10.4f} {dd_s / plain_s:>7.3f} {least:>10.3f} {share:>12.2%}")


if __name__ == "__main__":
    main()
