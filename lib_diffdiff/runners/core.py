"""The engine on any diffusers img2img pipeline, through the pipeline's public hooks only.

Two hooks carry Differential Diffusion into an unmodified pipeline call:

- the scheduler's `add_noise` (`scale_noise` for flow-matching schedulers), wrapped for the
  duration of the call, hands over the clean start (the encoded init image, or its pixels for
  DeepFloyd IF) and the very noise the pipeline drew for it (only its first call counts, so a
  second noising of a conditioning image is left alone);
- the step callback (`callback_on_step_end`, or the older `callback` with `callback_steps=1` where a
  pipeline has only that) injects, in place, into the latents the pipeline carries, so every UNet
  evaluation after the first sees held pixels at the original noised to its level. The first
  evaluation needs none: the pipeline's start latent is the original noised with that same noise.
  After the last step the callback sets never-released pixels to the original exactly (and, under
  the continuous release rule, blends those owed less than one step by their share).

The release schedule is built from the pipeline's own timesteps after strength truncation, read
from the scheduler at the first callback. DDPM-type schedulers (latents sqrt(a) x0 + sqrt(1 - a) n,
`init_noise_sigma` 1) are injected by timestep; k-diffusion-type ones (Euler, Heun, LMS, DPM2, ...:
latents x0 + sigma n, scaled only for the UNet) by the sigma the scheduler assigns to the next
evaluation, midpoints of second-order schedulers included. Flow-matching schedulers (SD3, Flux:
latents (1 - s) x0 + s n, noised with `scale_noise`) likewise by their next sigma s.

Flux carries its latents packed in 2x2 patches, one token of 4C values per patch: the original,
the noise and the map are packed the same way, so each latent pixel keeps its own strength.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable

import torch

from ..injection import CONTINUOUS, FlowSpace, Injector, SigmaSpace, TimestepSpace
from ..fill import NONE, filled_original
from ..maps import MapOptions, prepare_change_map
from ..schedule import ReleaseSchedule, timestep_to_sigma


class WeightsNotFoundError(RuntimeError):
    """Model weights could not be loaded (offline, wrong path or id); the message says what to do."""


def load_pipeline(pipeline_class, model: str, family: str, option: str = "--model", **kwargs):
    """`pipeline_class.from_pretrained(model, **kwargs)` with a clear message when weights are missing."""
    try:
        return pipeline_class.from_pretrained(model, **kwargs)
    except (OSError, ValueError) as error:  # hub errors are OSErrors; a path that is no folder and no hub id, a ValueError
        raise WeightsNotFoundError(
            f"cannot load the {family} weights {model!r} ({type(error).__name__}: {_own_words(error)}). "
            f"Download them once with network access, or point at a local folder holding a diffusers copy of them with "
            f"{option} PATH (model=PATH in Python). With HF_HUB_OFFLINE=1 only weights already in the Hugging Face cache are used."
        ) from error


def _own_words(error: Exception) -> str:
    """The first line of a loader's error without its pointers to a stack trace or to Python-only
    arguments, which the reader of our one-line message does not have."""
    first_line = (str(error).strip().splitlines() or [""])[0]
    return re.sub(r"\s*[^.()]*\b(stacktrace|stack trace|local_files_only)\b[^.()]*\.", "", first_line).strip()


def place(pipe, device: str, offload: bool):
    """Move a loaded pipeline to `device`, or let accelerate offload its parts to the CPU between uses."""
    if offload:
        pipe.enable_model_cpu_offload(device=device)
    else:
        pipe.to(device)
    return pipe


class DifferentialRun:
    """Differential Diffusion state for one call of a diffusers img2img pipeline.

    `change_map` is anything `lib_diffdiff.maps.read_map` reads; it is fitted to the working image
    size of the call (the latent size times `pixels_per_latent`) and averaged to the latent grid.
    """

    def __init__(
        self,
        pipe,
        change_map,
        *,
        options: MapOptions | None = None,
        future_hinting: bool = True,
        release_rule: str = CONTINUOUS,
        pixels_per_latent: int = 8,
        resize_mode: int = 0,
        fill: str = NONE,
        fill_seed: int = 0,
    ):
        self.pipe = pipe
        self.scheduler = pipe.scheduler
        self.change_map = change_map
        self.options = options or MapOptions()
        self.future_hinting = future_hinting
        self.release_rule = release_rule
        self.pixels_per_latent = pixels_per_latent
        self.resize_mode = resize_mode
        self.fill, self.fill_seed = fill, fill_seed
        self.original = self.noise = None
        self.injector: Injector | None = None
        self.change: torch.Tensor | None = None
        self._levels: Callable[[int], torch.Tensor] | None = None
        self._loop_length = 0
        self._patch = 0

    def __call__(self, **call_kwargs):
        """Call the pipeline with Differential Diffusion; returns the pipeline's own output."""
        parameters = inspect.signature(self.pipe.__call__).parameters
        if "callback_on_step_end" in parameters:
            if call_kwargs.get("callback_on_step_end") is not None:
                raise ValueError("callback_on_step_end: Differential Diffusion uses this hook itself; it cannot take yours")
            call_kwargs["callback_on_step_end"] = self.on_step_end
            call_kwargs["callback_on_step_end_tensor_inputs"] = ["latents"]
        elif "callback" in parameters:
            if self.scheduler.order != 1:
                raise ValueError(
                    f"scheduler: {type(self.scheduler).__name__} evaluates the model several times per step, and this pipeline "
                    "reports only whole steps; choose a first-order scheduler (DDPM, DDIM, DPM-Solver++, UniPC, Euler, ...)"
                )
            if call_kwargs.get("callback") is not None:
                raise ValueError("callback: Differential Diffusion uses this hook itself; it cannot take yours")
            call_kwargs["callback"] = self.on_step
            call_kwargs["callback_steps"] = 1
        else:
            raise TypeError(f"{type(self.pipe).__name__} offers no step callback to attach Differential Diffusion to")
        scheduler = self.scheduler
        noising = "scale_noise" if is_flow_matching(scheduler) else "add_noise"
        pipeline_noising = getattr(scheduler, noising)
        signature = inspect.signature(pipeline_noising)

        def capturing_noising(*args, **kwargs):
            if self.original is None:
                # add_noise(original_samples, noise, timesteps), scale_noise(sample, timestep, noise)
                bound = signature.bind(*args, **kwargs)
                clean = "sample" if "sample" in bound.arguments else "original_samples"
                self.noise = bound.arguments["noise"]
                self.change = self._fitted_change(bound.arguments[clean])
                # the start is the original as the fill leaves it, noised: where released pixels set off from
                self.original = filled_original(bound.arguments[clean], self.change, self.fill, [self.fill_seed])
                bound.arguments[clean] = self.original
                return pipeline_noising(*bound.args, **bound.kwargs)
            return pipeline_noising(*args, **kwargs)

        setattr(scheduler, noising, capturing_noising)
        try:
            return self.pipe(**call_kwargs)
        finally:
            delattr(scheduler, noising)

    def on_step_end(self, pipe, i, t, callback_kwargs):
        self.on_step(i, t, callback_kwargs["latents"])
        return callback_kwargs

    def on_step(self, i, t, latents):
        """After step `i`: inject for the next evaluation, or finish after the last."""
        if self.injector is None:
            self._start(t, latents)
        if self._patch:
            latents = latents.unsqueeze(1)  # packed (B, tokens, 4C) as a (B, 1, tokens, 4C) view
        if i + 1 < self._loop_length:
            self.injector.inject_(latents, self._levels(i + 1))
        else:
            latents.copy_(self.injector.finish(latents))

    def _start(self, first_timestep, latents):
        if self.original is None:
            raise RuntimeError(f"{type(self.pipe).__name__} did not noise an init image through its scheduler's add_noise or scale_noise")
        scheduler = self.scheduler
        height, width = self.original.shape[-2:]
        if is_flow_matching(scheduler):
            schedule, space = self._sigma_schedule(levels=lambda i: scheduler.sigmas[scheduler.step_index]), FlowSpace()
        elif float(scheduler.init_noise_sigma) == 1.0:
            schedule, space = self._timestep_schedule(first_timestep)
        else:
            schedule, space = self._sigma_schedule(), SigmaSpace()
        original, noise, change = self.original, self.noise, self.change
        self._patch = packed_patch_size(latents, original)
        if self._patch:
            original, noise = (pack_patches(t, self._patch).unsqueeze(1) for t in (original, noise))
            change = pack_patches(change.expand(1, self.original.shape[1], height, width), self._patch).unsqueeze(1)
        self.injector = Injector(
            original, noise, change, schedule, future_hinting=self.future_hinting, space=space, release_rule=self.release_rule
        )

    def _fitted_change(self, original: torch.Tensor) -> torch.Tensor:
        """The change map fitted to the working image and averaged to `original`'s latent grid."""
        height, width = original.shape[-2:]
        scale = self.pixels_per_latent
        return prepare_change_map(self.change_map, width * scale, height * scale, (height, width), self.options, self.resize_mode, field="map")

    def _timestep_schedule(self, first_timestep):
        """DDPM-type schedulers: the loop runs over the tail of `scheduler.timesteps`."""
        timesteps = self.scheduler.timesteps
        loop_length = getattr(self.pipe, "num_timesteps", None)
        if loop_length is None:  # pipelines that do not record it run their tail from the first timestep on
            loop_length = len(timesteps) - int((timesteps == first_timestep).nonzero()[0, 0])
        loop = timesteps[len(timesteps) - loop_length :].to(self.original.device)
        alphas_cumprod = self.scheduler.alphas_cumprod.to(self.original.device)
        loop_sigmas = timestep_to_sigma(loop, alphas_cumprod)
        self._loop_length = loop_length
        self._levels = lambda i: loop_sigmas[i]
        schedule = ReleaseSchedule.from_timesteps(torch.unique_consecutive(loop), alphas_cumprod)
        return schedule, _TimestepSpaceBySigma(alphas_cumprod)

    def _sigma_schedule(self, levels=None):
        """k-diffusion-type and flow-matching schedulers: read the sigmas from the step index the first
        step has advanced. Flow-matching ones keep the next evaluation's sigma at that index, in the
        second stage of Heun too, so `levels` reads it there."""
        scheduler = self.scheduler
        start = scheduler.step_index - 1
        self._loop_length = len(scheduler.timesteps) - start
        self._levels = levels or (lambda i: _evaluation_sigma(scheduler))
        sigmas = scheduler.sigmas[start:].to(self.original.device, torch.float32)
        steps = torch.unique_consecutive(sigmas[sigmas > 0])
        return ReleaseSchedule(steps)


def is_flow_matching(scheduler) -> bool:
    """Flow-matching schedulers (FlowMatchEuler/Heun/LCM...) noise an init latent with `scale_noise`."""
    return callable(getattr(scheduler, "scale_noise", None))


def packed_patch_size(latents: torch.Tensor, original: torch.Tensor) -> int:
    """0 where the pipeline carries latents as they were noised; p where it packs them into p x p
    patch tokens (Flux: (B, C, h, w) -> (B, h/2 * w/2, 4C))."""
    if latents.shape == original.shape:
        return 0
    batch, channels, height, width = original.shape
    patch = round((latents.shape[-1] / channels) ** 0.5) if latents.ndim == 3 else 0
    if patch < 1 or latents.shape != (batch, (height // patch) * (width // patch), channels * patch * patch):
        raise ValueError(
            f"latents of shape {tuple(latents.shape)} are neither the noised latent's shape {tuple(original.shape)} nor its patches"
        )
    return patch


def pack_patches(latents: torch.Tensor, patch: int) -> torch.Tensor:
    """(B, C, h, w) -> (B, (h/p)(w/p), C p p): tokens row by row, each channel-major over its p x p patch (Flux's layout)."""
    batch, channels, height, width = latents.shape
    blocks = latents.reshape(batch, channels, height // patch, patch, width // patch, patch)
    return blocks.permute(0, 2, 4, 1, 3, 5).reshape(batch, (height // patch) * (width // patch), channels * patch * patch)


class _TimestepSpaceBySigma(TimestepSpace):
    """DDPM-type latents, with levels given as the sigmas of the loop's timesteps, converted once per run."""

    def sigma(self, level: torch.Tensor) -> torch.Tensor:
        return level


def _evaluation_sigma(scheduler) -> torch.Tensor:
    """The sigma a k-diffusion-type scheduler scales the next model input by.

    In the second stage of a second-order scheduler (Heun, DPM2, DPM2 ancestral, DPM-Solver SDE) the
    latents sit at a midpoint whose bookkeeping differs from one scheduler to the next; its own input
    scaling 1 / sqrt(1 + sigma^2) tells which of its sigmas it is, and that exact value is used.
    """
    sigma = scheduler.sigmas[scheduler.step_index]
    if getattr(scheduler, "state_in_first_order", True):
        return sigma
    candidates = [scheduler.sigmas.flatten()]
    if getattr(scheduler, "sigmas_interpol", None) is not None:
        candidates.append(scheduler.sigmas_interpol.flatten())
    if getattr(scheduler, "mid_point_sigma", None) is not None:
        candidates.append(torch.as_tensor(scheduler.mid_point_sigma, device=sigma.device).flatten())
    candidates = torch.cat([candidate.to(sigma.device, torch.float64) for candidate in candidates])
    candidates = candidates[torch.isfinite(candidates)]  # DPM2 keeps a NaN midpoint past the last step
    probe = torch.ones(1, dtype=torch.float64, device=sigma.device)
    scale = scheduler.scale_model_input(probe, scheduler.timesteps[scheduler.step_index]).double()
    scaled_sigma = (1.0 / (scale * scale) - 1.0).clamp_min(0).sqrt()
    return candidates[(candidates - scaled_sigma).abs().argmin()].to(sigma.dtype)


def seeded_generator(seed: int) -> torch.Generator:
    """A CPU generator: the same seed gives the same noise on every device."""
    return torch.Generator("cpu").manual_seed(int(seed))
