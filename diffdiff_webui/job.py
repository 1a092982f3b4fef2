"""The Differential Diffusion state of one img2img job, kept on the job object `p`.

The hook is the job's CFG denoiser (`p.sampler.model_wrap_cfg`): the samplers call it with their own
latent and keep using that tensor, so injecting there, in place, reaches every sampler. The hook is
an instance attribute that shadows `forward`; it only acts while this job is sampling (the denoiser
still serves this `p` and the job is not closed), so an error or an interrupt that skips the clean-up
leaves nothing that could touch a later job. Nothing lives in module globals. What differs between
AUTOMATIC1111 and the Forge family (noising, schedule slice, mask pre-blend, UniPC's state) is asked
of the job's `Host` (host.py).
"""

from __future__ import annotations

import torch
from PIL import ImageChops
from fastapi import HTTPException
from modules import images, sd_samplers_common, shared

from lib_diffdiff import Injector, ReleaseSchedule, TimestepSpace
from lib_diffdiff.composite import keep_alpha, original_overlay
from lib_diffdiff.errors import SettingsError
from lib_diffdiff.params import INPAINT_MASK, MAP_HASH_KEY, Settings
from lib_diffdiff.schedule import unipc_timesteps

from .geometry import Geometry, JobMap, job_map, linear_keep_alpha
from .host import Host, current_host, still_picture

ATTRIBUTE = "diffdiff_job"


class UnusableSettings(HTTPException):
    """Fails a job whose settings or map cannot be used. Its status code makes the WebUI's HTTP API
    answer 422 with this message (and no stack trace) where a request got past the route's check."""

    def __init__(self, error: Exception):
        super().__init__(status_code=422, detail=f"Differential Diffusion: {error}")
        self.field = getattr(error, "field", None)

    def __str__(self) -> str:
        return self.detail


class Job:
    """One job: its settings (or the error that makes it fail), its map, and the hook on its denoiser."""

    def __init__(self, p, settings: Settings | None, error: Exception | None = None):
        self.p = p
        self.settings = settings
        self.error = error
        self.host = current_host()
        self.map: JobMap | None = None
        self.injector: Injector | None = None
        self.denoiser = None
        self.sampler = None
        self.state_levels = None  # UniPC: the level of the state after each update
        self.closed = False

    @classmethod
    def of(cls, p) -> Job | None:
        job = getattr(p, ATTRIBUTE, None)
        return job if job is not None and not job.closed else None

    @property
    def soft_inpainting(self) -> bool:
        return self.settings is not None and self.settings.source == INPAINT_MASK and self.map is not None

    def begin_sampling(self, p, init_latent: torch.Tensor, noise: torch.Tensor) -> None:
        """Before each batch: the injector for this batch's init latent, noise and schedule; the hook once."""
        self._hook(p.sampler.model_wrap_cfg)
        if self.error is not None:
            return
        try:
            self.host.check_model(shared.sd_model, init_latent)
            if self.map is None:
                self.map = job_map(
                    self.settings,
                    Geometry.of_job(p),
                    tuple(init_latent.shape[-2:]),
                    getattr(p, "image_mask", None),
                    {
                        "invert": bool(getattr(p, "inpainting_mask_invert", 0)),
                        "blur_x": getattr(p, "mask_blur_x", 0),
                        "blur_y": getattr(p, "mask_blur_y", 0),
                    },
                )
                p.extra_generation_params = {**p.extra_generation_params, MAP_HASH_KEY: self.map.hash}
            schedule, space, self.state_levels = job_schedule(p, self.host)
            if self.state_levels is not None:
                self._hook_state(p.sampler)
            self.injector = self.settings.injector(
                still_picture(init_latent), still_picture(noise), self.map.change_latent, schedule, space, seeds=getattr(p, "seeds", None) or [0]
            )
        except Exception as error:  # raised again from inside sampling, where the WebUI lets it fail the job
            self.error = error
            self.injector = None

    def finish(self, samples: torch.Tensor) -> torch.Tensor:
        """After each batch: pixels the map never releases become exactly the original latent."""
        injector, self.injector = self.injector, None
        if injector is None or getattr(samples, "already_decoded", False):
            return samples
        finished = injector.finish(still_picture(samples))
        return finished.unsqueeze(2) if samples.ndim == 5 else finished

    def composites(self, host_overlay) -> bool:
        """Whether this picture gets our composite: with the composite setting on every source; soft
        inpainting always replaces the WebUI's rounded-mask overlay, unless the user turned overlays off."""
        if self.settings is None or self.map is None:
            return False
        if self.settings.source == INPAINT_MASK:
            return host_overlay is not None
        return self.settings.composite

    def overlay(self, index: int, host_overlay=None):
        """The original picture with the map's keep strength as alpha; where the WebUI laid an inpaint
        mask's overlay of its own, it keeps what either keeps."""
        original = self.p.init_images[index % len(self.p.init_images)]
        picture = images.flatten(original, shared.opts.img2img_background_color)
        if not self.p.paste_to and self.p.resize_mode != 3:
            picture = images.resize_image(self.p.resize_mode, picture, self.p.width, self.p.height)
        elif not self.p.paste_to and picture.size != (self.p.width, self.p.height):  # latent upscale: the latent was stretched
            picture = images.resize_image(0, picture, self.p.width, self.p.height)
        overlay = original_overlay(picture, self.map.change_full, keep_alpha if self.settings.composite else linear_keep_alpha)
        if host_overlay is not None and self.settings.source != INPAINT_MASK:
            overlay.putalpha(ImageChops.lighter(overlay.getchannel("A"), host_overlay.getchannel("A")))
        return overlay

    def close(self) -> None:
        """The job is over: the hook stops acting and is taken off the denoiser."""
        self.closed = True
        self.injector = None
        if self.denoiser is not None and "forward" in vars(self.denoiser):
            del self.denoiser.forward
        if self.sampler is not None and "callback_state" in vars(self.sampler):
            del self.sampler.callback_state
        self.denoiser = self.sampler = None

    def _hook(self, denoiser) -> None:
        if self.denoiser is denoiser:
            return
        job, inner = self, denoiser.forward

        def forward(x, sigma, *args, **kwargs):
            if not job.closed and getattr(denoiser, "p", None) is job.p:
                if job.error is not None:
                    raise UnusableSettings(job.error) from job.error
                if job.injector is not None:
                    job._before_model(x, sigma, kwargs)
                    if job.host.pre_blends_mask and job.soft_inpainting:
                        return without_mask_pre_blend(denoiser, inner, x, sigma, *args, **kwargs)
            return inner(x, sigma, *args, **kwargs)

        denoiser.forward = forward
        self.denoiser = denoiser

    def _hook_state(self, sampler) -> None:
        """UniPC's corrected latent is never a model input; it reaches the sampler's callback after
        each update, so held pixels are injected there too, at the level the update reached."""
        if self.sampler is sampler:
            return
        job, inner = self, sampler.callback_state

        def callback_state(d):
            step = d["i"] + 1
            if not job.closed and job.injector is not None and sampler.model_wrap_cfg.p is job.p and step < len(job.state_levels):
                state, level = still_picture(d["x"]), job.state_levels[step]
                if job.host.unipc_on_sigmas:
                    inject_scaled_state_(job.injector, state, level)
                else:
                    job.injector.inject_state_(state, level)
            return inner(d)

        sampler.callback_state = callback_state
        self.sampler = sampler

    def _before_model(self, x: torch.Tensor, level: torch.Tensor, kwargs: dict) -> None:
        injector = self.injector
        injector.inject_(still_picture(x), level)
        image_cond = kwargs.get("image_cond")
        if is_inpainting_conditioning(image_cond, x):
            kwargs["image_cond"] = inpainting_conditioning(injector, image_cond, level)


def is_inpainting_conditioning(image_cond, x: torch.Tensor) -> bool:
    """An inpainting checkpoint's conditioning has the latent's size and one channel more (others get a 1x1 dummy)."""
    return isinstance(image_cond, torch.Tensor) and image_cond.shape[1:] == (x.shape[1] + 1, *x.shape[2:])


def inpainting_conditioning(injector: Injector, image_cond: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
    """An inpainting checkpoint's mask and masked-image latent following this step's released pixels.

    Released pixels are marked to be painted and keep the WebUI's masked-image latent; held pixels are
    marked known and show the original latent (a latent-space stand-in for encoding the picture again);
    a pixel partly released (continuous rule, at its release step) gets both by its released share.
    """
    released = injector.released_at(level).to(image_cond.dtype)
    mask = released.expand(image_cond.shape[0], 1, *image_cond.shape[-2:])
    latent = torch.lerp(injector.original.to(image_cond.dtype), image_cond[:, 1:], released)
    return torch.cat([mask, latent], dim=1)


def inject_scaled_state_(injector: Injector, state: torch.Tensor, level: torch.Tensor) -> None:
    """Forge Neo's UniPC hands its callback the state divided by sqrt(1 + s^2) (the DDPM scale it
    updates on): held pixels are injected at the sigma scale and written back divided again; the
    pixels the injection leaves alone are not touched, so they stay bit for bit the sampler's."""
    scale = (1 + torch.as_tensor(level, dtype=state.dtype, device=state.device) ** 2).sqrt()
    lifted = state * scale
    injected = lifted.clone()
    injector.inject_state_(injected, level)
    changed = injected != lifted
    state[changed] = (injected / scale)[changed]


def without_mask_pre_blend(denoiser, forward, *args, **kwargs):
    """One model call with the denoiser's latent masks hidden. The Forge family's CFG denoiser puts the
    original, noised with fresh noise, back wherever the rounded inpaint mask keeps, before every
    call; with the soft map in charge that would freeze the band's lower half and give held pixels
    noise other than the job's. Its blend after the model is skipped with it, which is what
    `on_mask_blend` makes of it anyway (the sampler's latent is kept)."""
    masks = denoiser.mask, denoiser.nmask
    denoiser.mask = denoiser.nmask = None
    try:
        return forward(*args, **kwargs)
    finally:
        denoiser.mask, denoiser.nmask = masks


def job_schedule(p, host: Host):
    """The steps this img2img job will evaluate, asked of its own sampler the way the host's
    sample_img2img asks, and for UniPC the levels its state reaches after each update (None for the
    others)."""
    steps, t_enc = sd_samplers_common.setup_img2img_steps(p)
    if t_enc < 1:
        raise SettingsError("denoising_strength", "is too low for any step to run; Differential Diffusion needs at least one")
    sampler = p.sampler
    if hasattr(sampler, "get_timesteps"):  # DDIM, DDIM CFG++, PLMS, UniPC
        alphas = shared.sd_model.alphas_cumprod
        timesteps = torch.as_tensor(sampler.get_timesteps(p, steps)[:t_enc]).flip(0)
        state_levels = None
        if getattr(sampler.func, "__name__", None) == "unipc":
            timesteps = state_levels = unipc_timesteps(int(timesteps[0]), t_enc, shared.opts.uni_pc_skip_type, alphas).to(alphas.device)
        return ReleaseSchedule.from_timesteps(timesteps.to(alphas.device), alphas), TimestepSpace(alphas), state_levels
    sigma_sched = host.img2img_sigmas(sampler.get_sigmas(p, steps), steps, t_enc)
    levels = sigma_sched[:-1]  # the last level is where sampling ends (0, or sigma_min for KL Optimal)
    unipc_state = host.unipc_on_sigmas and getattr(sampler.func, "__name__", None) == "sample_unipc"
    return ReleaseSchedule(levels), host.noising(shared.sd_model), levels if unipc_state else None
