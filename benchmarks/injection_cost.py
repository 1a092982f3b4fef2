"""Per-step cost of injection against one denoiser call, measured in the same run.

    python benchmarks/injection_cost.py            # SD 1.5-sized UNet (needs diffusers), 512x512 job
    python benchmarks/injection_cost.py --model reference   # the weight-free reference denoiser

The UNet has SD 1.5's configuration with random weights: its cost is that of the real model.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib_diffdiff import Injector, ReleaseSchedule  # noqa: E402
from lib_diffdiff.lab.reference import PosteriorMeanDenoiser, builtin_images, karras_sigmas  # noqa: E402


def sd15_unet_call(latent_size: int, device: str):
    from diffusers import UNet2DConditionModel

    unet = (
        UNet2DConditionModel(
            sample_size=latent_size,
            block_out_channels=(320, 640, 1280, 1280),
            layers_per_block=2,
            cross_attention_dim=768,
            attention_head_dim=8,
            down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        )
        .to(device)
        .eval()
    )
    context = torch.randn(2, 77, 768, device=device)  # cond and uncond, as classifier-free guidance batches them

    def call(x, sigma):
        with torch.no_grad():
            return unet(torch.cat([x, x]), sigma.repeat(2) * 50, encoder_hidden_states=context).sample[:1]

    return call


def reference_call(latent_size: int, device: str):
    bank = builtin_images(16, size=latent_size, seed=0)
    bank = torch.cat([bank, bank[:, :1]], dim=1).to(device)  # 4 channels like a latent
    return PosteriorMeanDenoiser(bank, tile=8).to(device)


def median_seconds(fn, repeats: int, desc: str) -> float:
    times = []
    for _ in tqdm(range(repeats), desc=desc, unit="run", leave=False):
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=["sd15", "reference"], default="sd15")
    parser.add_argument("--latent-size", type=int, default=64, help="64 = a 512x512 image")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    torch.manual_seed(0)

    shape = (1, 4, args.latent_size, args.latent_size)
    original, noise = torch.randn(shape, device=args.device), torch.randn(shape, device=args.device)
    sigmas = karras_sigmas(args.steps).to(args.device)
    injector = Injector(original, noise, torch.rand(shape[-2:]), ReleaseSchedule.from_sampler_sigmas(sigmas))
    x = original + noise * sigmas[0]
    model = sd15_unet_call(args.latent_size, args.device) if args.model == "sd15" else reference_call(args.latent_size, args.device)
    level = sigmas[args.steps // 2].reshape(1)

    model(x, level)  # warm-up
    for _ in range(10):
        injector.inject_(x, level)
    model_time = median_seconds(lambda: model(x, level), repeats=3 if args.model == "sd15" else 20, desc="denoiser calls")
    inject_time = median_seconds(lambda: [injector.inject_(x, level) for _ in range(100)], repeats=5, desc="100 injections") / 100

    print(f"device {args.device}, latent {tuple(shape)}, model {args.model}")
    print(f"one denoiser call : {model_time * 1e3:10.3f} ms")
    print(f"one injection     : {inject_time * 1e3:10.3f} ms")
    print(f"injection / denoiser call: {inject_time / model_time:.6f}  ({100 * inject_time / model_time:.4f} %)")


if __name__ == "__main__":
    main()
