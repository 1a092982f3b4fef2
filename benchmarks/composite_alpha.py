"""The composite's alpha shape, measured: how much of each strength's change survives, and the seam.

    python benchmarks/composite_alpha.py

The demo's edit (reference model, 30 Euler steps, seed 1) on a strength fan of 0, 0.2, ..., 1, saved
through the demo's VAE-like round trip, then composited over the input with the original's alpha
a(c) for each shape. Printed per shape: each strength's change from the input as a share of the full
edit's (the map's promise is that this grows with strength as the edit itself makes it grow), the
largest error on pixels of strength 0, and the seam: the mean step across the edge between the kept
sector and its neighbours, over the input's own mean step there.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib_diffdiff.fan import fan_parts  # noqa: E402
from lib_diffdiff.lab import demo  # noqa: E402
from lib_diffdiff.maps import prepare_change_map  # noqa: E402
from lib_diffdiff.params import Settings  # noqa: E402
from lib_diffdiff.presets import STRENGTH_FAN, preset_map  # noqa: E402

SHAPES = {
    "none (the round trip)": None,
    "1 - c": lambda c: 1 - c,
    "(1 - c)^2 (ours)": lambda c: (1 - c) ** 2,
    "(1 - c)^3": lambda c: (1 - c) ** 3,
    "1 only where c = 0": lambda c: (c == 0).astype(np.float64),
}


def saved(image: torch.Tensor, change: torch.Tensor, denoiser, noise, sigmas) -> np.ndarray:
    return np.asarray(demo.vae_round_trip(demo.to_pil(demo.edit(image, change, denoiser, 30, noise, sigmas=sigmas))), dtype=np.float64)


def main() -> None:
    size = demo.SIZE
    image, denoiser, noise = demo.demo_scene(1)
    sigmas = demo.demo_schedule(30)
    fan_settings = Settings(source=STRENGTH_FAN, fan_from=0.0, fan_to=1.0, fan_count=6)
    fan = demo.to_pil_gray(preset_map(STRENGTH_FAN, size, size, fan_settings))
    change = prepare_change_map(fan, size, size, (size, size), fan_settings.map_options())
    original = np.asarray(demo.to_pil(image), dtype=np.float64)
    result, full = saved(image, change, denoiser, noise, sigmas), saved(image, torch.ones(size, size), denoiser, noise, sigmas)
    parts, strength = fan_parts(size, size, fan_settings.fan_options()).numpy(), change.numpy()
    strengths = [float(strength[parts == part].mean()) for part in range(6)]
    edge = (strength[:, 1:] == 0) != (strength[:, :-1] == 0)
    full_change = np.abs(full - original).mean(axis=-1)
    print(f"share of the full edit's change per strength {', '.join(f'{s:.1f}' for s in strengths)}; error at strength 0; seam")
    for name, shape in SHAPES.items():
        if shape is None:
            out = result
        else:
            alpha = (np.round(shape(strength) * 255) / 255)[..., None]
            out = np.round(alpha * original + (1 - alpha) * result)
        share = np.abs(out - original).mean(axis=-1)
        shares = [share[parts == part].mean() / full_change[parts == part].mean() for part in range(6)]
        seam = np.abs(np.diff(out, axis=1)).mean(axis=-1)[edge].mean() / np.abs(np.diff(original, axis=1)).mean(axis=-1)[edge].mean()
        kept_error = np.abs(out - original)[strength == 0].max()
        print(f"{name:24s} {' '.join(f'{value:5.3f}' for value in shares)}   {kept_error:3.0f}   {seam:4.2f}")


if __name__ == "__main__":
    main()
