"""The fill's ramp, measured: how much a fill changes pixels of each strength, for weights c and c^2.

    python benchmarks/fill_ramp.py

The fill benchmark's flattened square (`lib_diffdiff.lab.fill_bench`), its map a ramp from strength 0
at the left edge of the square to 1 at the right; noise fill at denoising 0.5, 4 and 20 steps, 4 seeds.
Printed: the change in each quarter of the square (strengths 0-0.25, ..., 0.75-1) with no fill and with
each weight. A weight of c fills pixels a map only touches up (strength 0.25-0.5) almost as much as
changed ones; c^2 leaves them closer to the run without a fill.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib_diffdiff.fill import seeded_noise  # noqa: E402
from lib_diffdiff.lab.bench import reference_scene  # noqa: E402
from lib_diffdiff.lab.demo import edit, img2img_sigmas, schedule  # noqa: E402
from lib_diffdiff.lab.fill_bench import SIZE, flat_square  # noqa: E402

WEIGHTS = {"no fill": None, "weight c": lambda c: c, "weight c^2 (ours)": lambda c: c * c}


def main() -> None:
    denoiser, pictures = reference_scene(8, SIZE)
    flat = flat_square(pictures)[0]
    start, stop = SIZE // 4, 3 * SIZE // 4
    change = torch.zeros(SIZE, SIZE)
    change[start:stop, start:stop] = torch.linspace(0, 1, stop - start)
    quarters = [slice(start + q * (stop - start) // 4, start + (q + 1) * (stop - start) // 4) for q in range(4)]
    for steps in (4, 20):
        sigmas = img2img_sigmas(schedule(steps), 0.5)
        print(f"{steps} steps, denoising 0.5: change per quarter of the ramp (strength 0-0.25 ... 0.75-1)")
        for name, weight in WEIGHTS.items():
            moved = torch.zeros(4)
            for seed in range(4):
                noise = torch.randn(flat.shape, generator=torch.Generator().manual_seed(seed))
                original = flat
                if weight is not None:
                    target = seeded_noise(tuple(flat.shape), [100 + seed])
                    original = flat + weight(change) * (target - flat)
                out = edit(original, change, denoiser, steps, noise, sigmas=sigmas)
                moved += torch.stack([(out - flat)[..., start:stop, q].abs().mean() for q in quarters]) / 4
            print(f"  {name:18s} " + "  ".join(f"{value:.3f}" for value in moved.tolist()))


if __name__ == "__main__":
    main()
