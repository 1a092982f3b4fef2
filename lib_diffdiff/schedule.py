"""Where a model evaluation lies in the job's schedule, and so which pixels it has released.

The job runs N steps whose model evaluations happen at noise levels S[0] > S[1] > ... > S[N-1]
(for img2img: the steps left after truncation by the denoising strength). Step k sits at
position k. A sampler that evaluates between schedule points (Heun, DPM2, Restart, ...) or picks its
own levels (DPM fast/adaptive) gets a fractional position, interpolated in log-sigma; below the last
level the position runs linearly on to N at sigma 0.

A pixel with change strength c is released at position N * (1 - c): it takes part in the last
c * N steps, so a pixel at full change takes part in every step and one at 0 in none. The stepped
rule rounds that to whole steps (`free_steps`); the continuous rule (injection.py) also gives the
fraction of a step left over (`continuous_release`).
"""

from __future__ import annotations

import torch

# Guard against float rounding in N * (1 - c), so that c = 0.3 over 10 steps frees exactly 3 of them.
_RELEASE_TOLERANCE = 1e-4


class ReleaseSchedule:
    """The noise levels of a job's steps, with sigma -> position and change -> release position."""

    def __init__(self, step_sigmas: torch.Tensor):
        sigmas = torch.as_tensor(step_sigmas, dtype=torch.float32).flatten()
        if sigmas.numel() == 0:
            raise ValueError("the schedule has no steps")
        if not torch.isfinite(sigmas).all() or (sigmas <= 0).any():
            raise ValueError("schedule sigmas must be finite and positive (leave out the final 0)")
        if (sigmas[1:] >= sigmas[:-1]).any():
            raise ValueError("schedule sigmas must strictly decrease")
        self.steps = sigmas.numel()
        self.sigmas = sigmas
        self._log_ascending = sigmas.log().flip(0)
        self._positions_ascending = torch.arange(self.steps - 1, -1, -1, dtype=torch.float32, device=sigmas.device)

    @classmethod
    def from_sampler_sigmas(cls, sigmas: torch.Tensor) -> ReleaseSchedule:
        """From a k-diffusion schedule as samplers receive it (N + 1 levels ending in 0)."""
        sigmas = torch.as_tensor(sigmas).flatten()
        return cls(sigmas[:-1] if sigmas[-1] == 0 else sigmas)

    @classmethod
    def from_timesteps(cls, timesteps, alphas_cumprod: torch.Tensor) -> ReleaseSchedule:
        """From the timesteps a timestep sampler (DDIM, PLMS, UniPC) evaluates, in evaluation order."""
        return cls(timestep_to_sigma(torch.as_tensor(timesteps, device=alphas_cumprod.device), alphas_cumprod))

    def to(self, device) -> ReleaseSchedule:
        return ReleaseSchedule(self.sigmas.to(device))

    def position(self, sigma: torch.Tensor) -> torch.Tensor:
        """Fractional step position in [0, N] of an evaluation at `sigma` (any shape, stays on device)."""
        sigma = sigma.to(device=self.sigmas.device, dtype=torch.float32)
        if self.steps == 1:
            inside = torch.zeros_like(sigma)
        else:
            inside = _interpolate(sigma.clamp_min(1e-30).log(), self._log_ascending, self._positions_ascending)
        last = self.sigmas[-1]
        tail = (self.steps - 1) + (1.0 - sigma / last).clamp(0.0, 1.0)
        return torch.where(sigma < last, tail, inside)

    def release_positions(self, change: torch.Tensor) -> torch.Tensor:
        """Position from which each pixel of `change` is left to the sampler."""
        return self.steps * (1.0 - change.float()) - _RELEASE_TOLERANCE

    def continuous_release(self, change: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """For the continuous rule: release positions (as `release_positions` gives them) at the step
        boundary k >= N(1 - c) where the stepped rule releases each pixel and at k - 1, and the share of
        one more step, k - N(1 - c) in [0, 1), the pixel is owed on top of its N - k steps; the share is
        exactly 0 on step boundaries (within float rounding)."""
        exact = self.steps * (1.0 - change.float())
        boundary = (exact - _RELEASE_TOLERANCE).ceil().clamp_min(0.0)
        share = (boundary - exact).clamp_min(0.0)
        share = torch.where(share < _RELEASE_TOLERANCE, torch.zeros_like(share), share)
        return boundary - _RELEASE_TOLERANCE, boundary - 1 - _RELEASE_TOLERANCE, share

    def free_steps(self, change: torch.Tensor) -> torch.Tensor:
        """How many of the N steps each pixel takes part in (steps at positions 0..N-1)."""
        first_free = self.release_positions(change).ceil().clamp(0, self.steps)
        return (self.steps - first_free).to(torch.int64)


def timestep_to_sigma(timesteps: torch.Tensor, alphas_cumprod: torch.Tensor) -> torch.Tensor:
    """The k-diffusion sigma of a (possibly fractional) DDPM timestep: sqrt((1 - a) / a)."""
    alphas = alphas_cumprod.to(torch.float32)
    index = timesteps.to(torch.float32).clamp(0, alphas.numel() - 1)
    low = index.floor().long()
    high = (low + 1).clamp_max(alphas.numel() - 1)
    alpha = torch.lerp(alphas[low], alphas[high], index - low)
    return ((1 - alpha) / alpha).sqrt()


def unipc_timesteps(top: int, steps: int, skip_type: str, alphas_cumprod: torch.Tensor) -> torch.Tensor:
    """The (fractional) timesteps UniPC evaluates at in img2img, first to last: its own grid of
    `steps` steps from `top` down to 0 (WebUI's "UniPC skip type"), one evaluation per step, none at 0.

    UniPC does not run on the job's DDIM timesteps; a release schedule built from those would lag
    its evaluations by up to a step."""
    count = len(alphas_cumprod)
    if skip_type == "time_uniform":
        times = torch.linspace(top, 0.0, steps + 1, dtype=torch.float64)
    elif skip_type == "time_quadratic":  # uniform in the square root of UniPC's continuous time (t + 1) / count
        roots = torch.linspace(((top + 1) / count) ** 0.5, (1 / count) ** 0.5, steps + 1, dtype=torch.float64)
        times = roots.square() * count - 1
    elif skip_type == "logSNR":  # uniform in half log-SNR; log alpha is piecewise linear between timesteps
        log_alphas = 0.5 * alphas_cumprod.detach().cpu().double().log()
        half_log_snr = log_alphas - 0.5 * torch.log1p(-torch.exp(2 * log_alphas))
        targets = torch.linspace(float(half_log_snr[top]), float(half_log_snr[0]), steps + 1, dtype=torch.float64)
        log_alpha = -0.5 * torch.nn.functional.softplus(-2 * targets)
        rising = log_alphas.flip(0)  # ascending log alpha against descending timesteps
        upper = torch.searchsorted(rising, log_alpha).clamp(1, count - 1)
        weight = (log_alpha - rising[upper - 1]) / (rising[upper] - rising[upper - 1])
        times = (count - upper) - weight  # timestep of rising[upper - 1] is count - upper
    else:
        raise ValueError(f"unknown UniPC skip type {skip_type!r}")
    return times[:-1].float()


def _interpolate(query: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
    """Piecewise-linear interpolation on ascending `xs`, clamped at both ends; device-only."""
    upper = torch.searchsorted(xs, query.contiguous()).clamp(1, xs.numel() - 1)
    x0, x1 = xs[upper - 1], xs[upper]
    y0, y1 = ys[upper - 1], ys[upper]
    weight = ((query - x0) / (x1 - x0)).clamp(0.0, 1.0)
    return y0 + weight * (y1 - y0)
