"""Benchmark (not a test): the same img2img job with and without Differential Diffusion, through the
WebUI stand-in, on a UNet of the SD 1.5 configuration with random weights.

Prints the median wall-time ratio (target: at most 1.01), the CPU-time ratio, the hook's own cost
per model evaluation, and the peak-memory difference (CUDA allocator statistics on a GPU; on CPU,
the bytes the job's Differential Diffusion state holds).

    PYTHONPATH=/path/to/diffusers python benchmarks/webui_overhead.py --latent 32 --steps 4 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from PIL import Image
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "webui_stub")]

from modules import processing, shared  # noqa: E402
from tiny_models import Inner, encode_blocks  # noqa: E402
from webui_harness import StandInWebUI  # noqa: E402

from lib_diffdiff import Injector, ReleaseSchedule  # noqa: E402
from lib_diffdiff.presets import radial  # noqa: E402
from lib_diffdiff.lab.reference import linear_alphas_cumprod  # noqa: E402

SD15_UNET = dict(
    sample_size=64,
    in_channels=4,
    out_channels=4,
    layers_per_block=2,
    block_out_channels=(320, 640, 1280, 1280),
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    cross_attention_dim=768,
    attention_head_dim=8,
)


class SD15RandomUNet:
    """An SD 1.5-shaped latent diffusion model: diffusers' UNet with random weights, 77x768 text tokens."""

    parameterization = "eps"
    is_sdxl = False

    def __init__(self, device):
        from diffusers import UNet2DConditionModel

        torch.manual_seed(0)
        self.unet = UNet2DConditionModel(**SD15_UNET).to(device).eval()
        self.model = Inner("crossattn")
        self.device = device
        self.alphas_cumprod = linear_alphas_cumprod().to(device)
        self.evaluations = 0

    def encode_first_stage(self, image):
        return encode_blocks(image.to(self.device))

    def decode_first_stage(self, latent):
        return torch.nn.functional.interpolate(latent[:, :3], scale_factor=8, mode="nearest")

    def get_learned_conditioning(self, prompts):
        generator = torch.Generator().manual_seed(sum(map(ord, "".join(prompts))))
        return torch.randn(len(prompts), 77, 768, generator=generator).to(self.device)

    def apply_model(self, x_t, t, cond):
        self.evaluations += 1
        return self.unet(x_t, t, encoder_hidden_states=cond["c_crossattn"][0]).sample


def state_bytes(batch: int, latent: int) -> int:
    """What the job's Differential Diffusion state holds on the device: the injector's scratch latent
    (float32), its release map (float32), two boolean maps, and the latent change map (float32)."""
    return batch * 4 * latent * latent * 4 + latent * latent * (4 + 1 + 1 + 4)


def hook_seconds(latent: int, device, calls: int = 200) -> float:
    """The hook's own cost per model evaluation, timed alone: one injection into a latent of the job's shape."""
    original = torch.randn(1, 4, latent, latent, device=device)
    change = torch.rand(latent, latent, device=device)
    injector = Injector(original, torch.randn_like(original), change, ReleaseSchedule(torch.linspace(14.6, 0.03, 20)))
    x, sigma = original.clone(), torch.tensor([3.0], device=device)
    for _ in range(10):
        injector.inject_(x, sigma)
    start = time.perf_counter()
    for _ in range(calls):
        injector.inject_(x, sigma)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / calls


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latent", type=int, default=32, help="latent side (image side / 8)")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sampler", default="Euler")
    args = parser.parse_args()

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    shared.device = device
    model = SD15RandomUNet(device)
    webui = StandInWebUI()
    size = args.latent * 8
    init = Image.effect_mandelbrot((size, size), (-2, -1.5, 1, 1.5), 50).convert("RGB")
    change_map = Image.fromarray((radial(size, size) * 255).byte().numpy())

    def job(enabled: bool):
        settings = dict(enabled=True, map=change_map) if enabled else {}
        p = webui.job(model, args.sampler, init, width=size, height=size, steps=args.steps, denoising_strength=1.0, **settings)
        if device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        start, cpu_start = time.perf_counter(), time.process_time()
        processing.process_images(p)
        if device.type == "cuda":
            torch.cuda.synchronize()
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        return elapsed, (cpu, torch.cuda.max_memory_allocated() if device.type == "cuda" else None)

    job(False), job(True)  # warm-up
    model.evaluations = 0
    job(False)
    evaluations = model.evaluations
    plain, ours = [], []
    order = [enabled for repeat in range(args.repeats) for enabled in ((False, True) if repeat % 2 == 0 else (True, False))]
    for enabled in tqdm(order, desc="jobs, plain and with DD in turn", unit="job"):
        elapsed, memory = job(enabled)
        (ours if enabled else plain).append((elapsed, memory))
    plain_time = statistics.median(t for t, _ in plain)
    our_time = statistics.median(t for t, _ in ours)
    print(f"device {device}, latent {args.latent}x{args.latent}, {args.steps} steps, {args.sampler}, {args.repeats} repeats")
    print(f"plain img2img          median {plain_time:.3f} s  ({', '.join(f'{t:.3f}' for t, _ in plain)})")
    print(f"Differential Diffusion median {our_time:.3f} s  ({', '.join(f'{t:.3f}' for t, _ in ours)})")
    print(f"wall-time ratio {our_time / plain_time:.4f} (target <= 1.01)")
    plain_cpu = statistics.median(m[0] for _, m in plain)
    our_cpu = statistics.median(m[0] for _, m in ours)
    print(f"CPU-time ratio {our_cpu / plain_cpu:.4f} (this process's CPU seconds, less sensitive to other load on the machine)")
    hook = hook_seconds(args.latent, device)
    per_evaluation = plain_time / evaluations
    print(
        f"hook alone: {hook * 1e6:.1f} us per model evaluation, {evaluations} evaluations of {per_evaluation:.3f} s: "
        f"expected ratio {1 + hook / per_evaluation:.5f} (the measured one is within the machine's timing noise)"
    )
    if device.type == "cuda":
        difference = max(m[1] for _, m in ours) - max(m[1] for _, m in plain)
        print(f"peak memory difference {difference / 2**20:+.2f} MiB")
    else:
        held = state_bytes(1, args.latent) / 2**10
        print(f"peak memory difference: no allocator statistics on CPU; the job's state holds {held:.1f} KiB")


if __name__ == "__main__":
    main()
