"""Thresholded injection with future hinting: the per-evaluation heart of Differential Diffusion.

Before every model evaluation, latent pixels the map still holds are overwritten, in the sampler's
own tensor, by the original latent noised to the evaluation's level with the job's one noise sample
(paper Algorithm 1); with future hinting every pixel released later is injected at every evaluation
before its release. A pixel is injected once more at the first evaluation at or after its release, so
it sets off from the original at that level and takes part in a share c of the steps. The model's
prediction is left alone, so a uniform map of strength c behaves like img2img at denoising c.

Two release rules: *stepped* (the paper's, floor(cN) whole steps) and *continuous* (the default: also
the fraction cN - floor(cN) of one more step, by blending at the release step), equal on step
boundaries. Why windows are measured as they are, the rules' measurements and the alternatives
tried: docs/design-notes.md.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .schedule import ReleaseSchedule, timestep_to_sigma

CONTINUOUS = "continuous"
STEPPED = "stepped"
RELEASE_RULES = (CONTINUOUS, STEPPED)
# Evaluations closer than this share one position: an ancestral DPM2 or DPM++ 2S midpoint lies at the
# next step's sigma, up to float rounding (its sigma_down is sigma_next^2 / sigma).
_SAME_POSITION = 1e-3


class SigmaSpace:
    """k-diffusion parameterisation: x = x0 + sigma * noise, the model predicts x0."""

    def sigma(self, level: torch.Tensor) -> torch.Tensor:
        return level

    def noise_into(self, out: torch.Tensor, original: torch.Tensor, noise: torch.Tensor, level: torch.Tensor) -> None:
        torch.mul(noise, _per_sample(level, out), out=out)
        out.add_(original)


class TimestepSpace:
    """DDPM parameterisation of timestep samplers: x = sqrt(a) x0 + sqrt(1 - a) noise, the model predicts noise."""

    def __init__(self, alphas_cumprod: torch.Tensor):
        self.alphas_cumprod = alphas_cumprod

    def sigma(self, level: torch.Tensor) -> torch.Tensor:
        return timestep_to_sigma(level, self.alphas_cumprod)

    def noise_into(self, out: torch.Tensor, original: torch.Tensor, noise: torch.Tensor, level: torch.Tensor) -> None:
        sigma = _per_sample(self.sigma(level), out)
        scale = (1 + sigma * sigma).rsqrt()  # sqrt(a)
        torch.mul(noise, sigma * scale, out=out)  # sqrt(1 - a) = sigma * sqrt(a)
        out.addcmul_(original, scale)


class FlowSpace:
    """Rectified flow (SD3, Flux): x = (1 - s) x0 + s * noise with s in (0, 1].

    k-diffusion samplers run these models with sigma = s and the predicted x0 as the denoised value
    (derivative (x - x0) / s), so the level is the sampler's sigma and the release schedule is built
    on the sampler's own sigmas, like SigmaSpace; only the noising differs. Both products are rounded
    before they are added, as in the models' own `(1 - s) * x0 + s * noise` (a fused multiply-add
    would differ in the last bit), so that takes one more latent, made once."""

    def __init__(self):
        self._term: torch.Tensor | None = None

    def sigma(self, level: torch.Tensor) -> torch.Tensor:
        return level

    def noise_into(self, out: torch.Tensor, original: torch.Tensor, noise: torch.Tensor, level: torch.Tensor) -> None:
        level = _per_sample(level, out)
        if self._term is None or self._term.shape != out.shape or self._term.device != out.device:
            self._term = torch.empty_like(out)
        torch.mul(original, 1 - level, out=out)
        torch.mul(noise, level, out=self._term)
        out.add_(self._term)


Observer = Callable[[torch.Tensor, torch.Tensor], None]


class Injector:
    """The Differential Diffusion state of one sampling run.

    `original` and `noise` are (B, C, h, w) latents; `change` holds change strengths in [0, 1] of
    shape (h, w), (1, 1, h, w) or (B, 1, h, w). Keeps one scratch latent and the release map;
    nothing per step is stored and nothing leaves the device.
    """

    def __init__(
        self,
        original: torch.Tensor,
        noise: torch.Tensor,
        change: torch.Tensor,
        schedule: ReleaseSchedule,
        *,
        future_hinting: bool = True,
        space: SigmaSpace | TimestepSpace | FlowSpace | None = None,
        observer: Observer | None = None,
        release_rule: str = CONTINUOUS,
        start_from_original: bool = False,
    ):
        if original.shape != noise.shape or original.ndim != 4:
            raise ValueError(
                f"original and noise must be matching (B, C, h, w) latents, got {tuple(original.shape)} and {tuple(noise.shape)}"
            )
        change = change.to(device=original.device, dtype=torch.float32)
        change = change.view(1, 1, *change.shape) if change.ndim == 2 else change
        if (
            change.ndim != 4
            or change.shape[1] != 1
            or change.shape[-2:] != original.shape[-2:]
            or change.shape[0] not in (1, original.shape[0])
        ):
            raise ValueError(f"change map of shape {tuple(change.shape)} does not fit latents of shape {tuple(original.shape)}")
        self.original = original
        self.noise = noise
        self.schedule = schedule.to(original.device)
        self.future_hinting = future_hinting
        self.space = space or SigmaSpace()
        self.observer = observer
        # the sampler made its start from another original than ours (a fill): the first evaluation sets every pixel
        self.start_from_original = start_from_original
        if release_rule not in RELEASE_RULES:
            raise ValueError(f"release rule must be one of {list(RELEASE_RULES)}, got {release_rule!r}")
        self.release_rule = release_rule
        self.release = self.schedule.release_positions(change)
        if release_rule == CONTINUOUS:
            *self._boundaries, self._share = self.schedule.continuous_release(change)
        # sampling ends at position N, sigma 0, where the original noised to that level is the original
        # (no sampler evaluates inside the last step, so the window there is the whole step)
        self._final_weight = self.weight(torch.tensor(float(self.schedule.steps), device=original.device))
        self.never_released = self._final_weight == 1
        self._scratch = torch.empty_like(original)
        self._last_position: torch.Tensor | None = None  # of the previous evaluation
        self._window_start: torch.Tensor | None = None  # the window of the previous evaluation

    def inject_(self, x: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        """Pull held pixels of the sampler's `x` in place to the original before a model call; returns
        each pixel's injection weight (1: overwritten, 0: left alone; between: blended)."""
        position, weight = self._overwrite(x, level)
        if self.observer is not None:
            self.observer(position, weight)
        return weight

    def inject_state_(self, x: torch.Tensor, level: torch.Tensor) -> None:
        """The same, on a sampler state that is never a model input (UniPC's corrected latent, which
        its callback hands over after each update): otherwise held pixels would drift there. It is
        weighted as the evaluation at `level` that follows it will be."""
        self._overwrite(x, level, evaluation=False)

    def weight(self, position: torch.Tensor, window_start: torch.Tensor | None = None) -> torch.Tensor:
        """How far each pixel is pulled to the original noised to an evaluation at `position` (B, 1, 1, 1)
        that follows one at `window_start` (default: a step before, as with one evaluation per step)."""
        window_start = position - 1 if window_start is None else window_start
        if self.release_rule == STEPPED:
            return self._stepped(self.release, position, window_start).float()
        return self._mix(*(self._stepped(release, position, window_start) for release in self._boundaries))

    def position(self, level: torch.Tensor) -> torch.Tensor:
        """Where an evaluation at `level` (the sampler's sigma or timestep, per sample or one for all)
        lies in the release schedule, shape (B, 1, 1, 1): the one reading of a level that the
        injection and `released_at` share."""
        return self.schedule.position(self.space.sigma(torch.as_tensor(level, device=self.original.device))).reshape(-1, 1, 1, 1)

    def released_at(self, level: torch.Tensor) -> torch.Tensor:
        """Each pixel's share released to the sampler at an evaluation at `level`: 0 held, 1 free (an
        inpainting checkpoint's mask follows it)."""
        return self.released(self.position(level))

    def released(self, position: torch.Tensor) -> torch.Tensor:
        """Each pixel's share released to the sampler at `position` (B, 1, 1, 1): 0 held, 1 free."""
        if self.release_rule == STEPPED:
            return (self.release <= position).float()
        return self._mix(*(release <= position for release in self._boundaries))

    def _mix(self, at_boundary: torch.Tensor, one_step_earlier: torch.Tensor) -> torch.Tensor:
        """The continuous rule: the stepped rule's masks for release at the boundary k and at k - 1,
        mixed by the share of a step each pixel is owed on top of its N - k steps."""
        return torch.where(at_boundary, 1 - self._share, 0.0) + torch.where(one_step_earlier, self._share, 0.0)

    def _stepped(self, release: torch.Tensor, position: torch.Tensor, window_start: torch.Tensor) -> torch.Tensor:
        """The paper's rule for release positions `release`: held, or released since the previous evaluation."""
        injected = (release > window_start) & (release > 0)  # release <= 0: the img2img start latent itself
        if not self.future_hinting:
            injected &= release <= position  # released within the window only
        return injected

    def _window(self, position: torch.Tensor, *, advance: bool) -> torch.Tensor:
        """Where the window of an evaluation at `position` starts: the previous evaluation's position, at
        most a step back, or that one's own start where the two share a position; a step back for the
        first evaluation and where the sampler went back (Restart, a rejected DPM adaptive step)."""
        if self._last_position is None:
            start = position - 1
        else:
            same = (position - self._last_position).abs() < _SAME_POSITION
            start = torch.where(same, self._window_start, self._last_position.clamp_min(position - 1))
            start = torch.where(~same & (position < self._last_position), position - 1, start)
        if advance:
            self._last_position, self._window_start = position, start
        return start

    def _overwrite(self, x: torch.Tensor, level: torch.Tensor, *, evaluation: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        position = self.position(level)
        first = evaluation and self._last_position is None
        weight = self.weight(position, self._window(position, advance=evaluation))
        if first and self.start_from_original:
            weight = torch.ones_like(weight)
        self.space.noise_into(self._scratch, self.original, self.noise, level)
        x.lerp_(self._scratch.to(x.dtype), weight.to(x.dtype))  # exact at weights 0 and 1
        return position, weight

    def wrap(self, model: Callable) -> Callable:
        """A denoiser `model(x, level, **kwargs)` with Differential Diffusion around every call."""

        def denoise(x, level, **kwargs):
            self.inject_(x, level)
            return model(x, level, **kwargs)

        return denoise

    def finish(self, x: torch.Tensor) -> torch.Tensor:
        """The final latent: pixels the map never releases are exactly the original."""
        return torch.lerp(x, self.original.to(x.dtype), self._final_weight.to(x.dtype))


def _per_sample(level: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    level = torch.as_tensor(level, device=like.device, dtype=like.dtype)
    return level.reshape(-1, *([1] * (like.ndim - 1)))
