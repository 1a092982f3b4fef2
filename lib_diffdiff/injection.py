"""Thresholded injection with future hinting: the per-evaluation heart of Differential Diffusion.

Before every model evaluation, latent pixels the map still holds are overwritten, in the sampler's
own tensor, by the original latent noised to the evaluation's level, with the same noise sample
every time (paper Algorithm 1). With future hinting (the default) every pixel released later is
injected at every evaluation before its release; without it (the paper's ablation) it is not. Either
way a pixel is injected at the evaluations within one step after its release, so it sets off from
the original noised to that level and takes part in a share c of the steps, also where a sampler's
step straddles its release (DPM adaptive). The model's prediction is left alone, as
in the reference implementation: a uniform map of strength c then behaves like img2img at denoising
strength c, for multistep samplers too. Pixels the map keeps entirely are set to the original latent
when sampling ends (`finish`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .schedule import ReleaseSchedule, timestep_to_sigma


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
        self.release = self.schedule.release_positions(change)
        self.never_released = self.release > self.schedule.steps - 1
        self._held_at_start = self.release > 0  # the others start from the img2img start latent itself
        self._scratch = torch.empty_like(original)

    def inject_(self, x: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        """Overwrite held pixels of the sampler's `x` in place before a model call; returns the mask."""
        position, injected = self._overwrite(x, level)
        if self.observer is not None:
            self.observer(position, injected)
        return injected

    def inject_state_(self, x: torch.Tensor, level: torch.Tensor) -> None:
        """The same, on a sampler state that is never a model input (UniPC's corrected latent, which
        its callback hands over after each update): otherwise held pixels would drift there."""
        self._overwrite(x, level)

    def _overwrite(self, x: torch.Tensor, level: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        position = self.schedule.position(self.space.sigma(torch.as_tensor(level, device=x.device)))
        position = position.reshape(-1, 1, 1, 1)
        injected = (self.release > position - 1) & self._held_at_start  # held, or released within the last step
        if not self.future_hinting:
            injected &= self.release <= position  # released within the last step only
        self.space.noise_into(self._scratch, self.original, self.noise, level)
        torch.where(injected, self._scratch.to(x.dtype), x, out=x)
        return position, injected

    def wrap(self, model: Callable) -> Callable:
        """A denoiser `model(x, level, **kwargs)` with Differential Diffusion around every call."""

        def denoise(x, level, **kwargs):
            self.inject_(x, level)
            return model(x, level, **kwargs)

        return denoise

    def finish(self, x: torch.Tensor) -> torch.Tensor:
        """The final latent: pixels the map never releases are exactly the original."""
        return torch.where(self.never_released, self.original.to(x.dtype), x)


def _per_sample(level: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    level = torch.as_tensor(level, device=like.device, dtype=like.dtype)
    return level.reshape(-1, *([1] * (like.ndim - 1)))
