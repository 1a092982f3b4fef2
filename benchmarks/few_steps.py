"""Few steps, measured: why Differential Diffusion trails the soft blend at 2 Karras steps, and what
a rule would have to give up to lead there.

    python benchmarks/few_steps.py

The reliability benchmark (`lib_diffdiff.lab.bench`, 32 pictures) at 1 to 50 steps, seeds 0 to 3, on
its Karras schedule and on SGM Uniform. Printed per step count, as the lowest to highest over the seeds:

1. R of the shipped rule (continuous), of the paper's stepped rule and of the best baseline (not
   Differential Diffusion).

and on Karras also:

2. The change that strengths on step boundaries k/N get from the paper's rule (uniform maps), as a
   share of the full edit, and the highest R that any rule exact on those boundaries and growing with
   strength can reach: the best of many monotone curves through those points (power curves per
   segment), scored as the benchmark scores a method.
3. R of the alternative measured and not shipped: the last step, which starts at the schedule's
   lowest level, set apart from the release (the continuous rule over the first N - 1 steps, then
   that step for every pixel), so strengths k/N no longer give the paper's result.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib_diffdiff import Injector, ReleaseSchedule  # noqa: E402
from lib_diffdiff.injection import STEPPED  # noqa: E402
from lib_diffdiff.lab.bench import METHODS, differential, reference_scene, reliability  # noqa: E402
from lib_diffdiff.lab.demo import KARRAS, SCHEDULES, euler, schedule  # noqa: E402
from lib_diffdiff.lab.metrics import column_trend, pearson  # noqa: E402

STEP_COUNTS = (1, 2, 3, 4, 6, 8, 12, 20, 50)
SEEDS = (0, 1, 2, 3)
COLUMNS = 64
SHIPPED, PAPER = "Differential Diffusion", "DD, stepped release"
BASELINES = [name for name in METHODS if name != SHIPPED and not name.startswith("DD")]
SET_APART = "last step set apart (not shipped)"


def last_step_set_apart(image, change, denoiser, sigmas, noise):
    """The continuous rule over all steps but the last; the last (from the lowest level to 0) runs on
    every pixel afterwards, and pixels the map keeps entirely are the original again."""
    if len(sigmas) < 3:
        return differential(image, change, denoiser, sigmas, noise)
    injector = Injector(image, noise, change, ReleaseSchedule(sigmas[:-2]))
    x = injector.finish(euler(injector.wrap(denoiser), image + noise * sigmas[0], sigmas[:-1]))
    return torch.where(injector.never_released, image, euler(denoiser, x, sigmas[-2:]))


def boundary_change(steps: int, seed: int) -> list[float]:
    """The paper's rule on uniform maps of strength k/N, k = 0..N: each one's column trend, as a share
    of the all-change map's."""
    denoiser, originals = reference_scene(32, COLUMNS, seed)
    noise = torch.randn(originals.shape, generator=torch.Generator().manual_seed(seed))
    trends = [
        column_trend(
            differential(originals, torch.full((COLUMNS, COLUMNS), k / steps), denoiser, schedule(steps), noise, release_rule=STEPPED),
            originals,
        ).mean()
        for k in range(steps + 1)
    ]
    return [float(trend / trends[-1]) for trend in trends]


def best_exact_r(points: list[float]) -> float:
    """The highest Pearson R with the column index of a curve over COLUMNS columns (strength j / COLUMNS)
    through `points` at strengths k/N, rising within each segment as a power t^g of its own span."""
    steps = len(points) - 1
    strength = np.arange(COLUMNS) / COLUMNS
    segment = np.minimum((strength * steps).astype(int), steps - 1)
    within = strength * steps - segment
    powers = np.geomspace(0.05, 20, 25)
    best = -1.0
    for shape in itertools.product(powers, repeat=min(steps, 3)):  # past 3 segments the points alone decide
        exponent = np.array([shape[min(k, len(shape) - 1)] for k in range(steps)])[segment]
        low, high = np.array(points[:-1])[segment], np.array(points[1:])[segment]
        best = max(best, pearson(low + (high - low) * within**exponent, np.arange(COLUMNS)))
    return best


def main() -> None:
    methods = {**METHODS, SET_APART: last_step_set_apart}
    for kind in SCHEDULES:
        extra = ["change at k/N, paper's rule", "best R exact on k/N", SET_APART] if kind == KARRAS else []
        print(f"\n{kind} schedule")
        print("| " + " | ".join(["steps", "shipped (continuous)", "paper (stepped)", "best baseline", *extra]) + " |")
        print("|---" * (4 + len(extra)) + "|")
        for steps in STEP_COUNTS:
            runs = [reliability(steps=steps, seed=seed, methods=methods, schedule_kind=kind).scores for seed in SEEDS]
            spread = lambda name, runs=runs: f"{min(run[name] for run in runs):.3f}-{max(run[name] for run in runs):.3f}"
            best = max(BASELINES, key=lambda name, runs=runs: np.mean([run[name] for run in runs]))
            cells = [str(steps), spread(SHIPPED), spread(PAPER), f"{best} {spread(best)}"]
            if extra:
                points = boundary_change(steps, SEEDS[0]) if steps <= 4 else None
                cells += [" ".join(f"{share:.3f}" for share in points), f"{best_exact_r(points):.3f}"] if points else ["-", "-"]
                cells.append(spread(SET_APART))
            print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
