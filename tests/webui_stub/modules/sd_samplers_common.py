"""Stand-in for modules/sd_samplers_common.py: img2img step counts, the refiner switch, the interrupt
exception, and what every sampler shares."""

import inspect

import torch

from modules import sd_models, shared


class InterruptedException(BaseException):
    """Raised inside sampling by the interrupt and skip buttons; the sampler returns its last latent."""


def setup_img2img_steps(p, steps=None):
    """(length of the full schedule, index t_enc where img2img enters it). Normally the schedule is the
    job's steps and img2img runs the last `strength` share of it; with the option "img2img does exactly
    the steps asked" (or explicit steps) the schedule is stretched so that the steps asked are run."""
    strength = min(p.denoising_strength, 0.999)
    if steps is None and not shared.opts.img2img_fix_steps:
        return p.steps, int(strength * p.steps)
    wanted = steps or p.steps
    return (int(wanted / strength) if p.denoising_strength > 0 else 0), wanted - 1


def completed_share(denoiser, sigma):
    """How far sampling has come, read from the noise level of this call: the model timestep nearest
    the largest sigma (timestep samplers pass the timestep itself), as a share of 1000."""
    top = torch.max(sigma)
    table = getattr(denoiser.inner_model, "sigmas", None)
    timestep = top.to(dtype=int) if table is None else torch.argmin((table.to(top.device) - top).abs())
    return (999 - timestep) / 1000


def apply_refiner(denoiser, sigma):
    """Before a model call: swap in the job's refiner checkpoint once sampling has come `refiner_switch_at`
    of the way; the CFG denoiser then rebuilds its inner model and conditioning. True if it switched now.
    (The WebUI can also count by sampling steps, an option; left out.)"""
    p = denoiser.p
    target = p.refiner_checkpoint_info
    if target is None or getattr(shared.sd_model, "sd_checkpoint_info", None) == target:
        return False
    if p.refiner_switch_at is not None and completed_share(denoiser, sigma) < p.refiner_switch_at:
        return False
    p.extra_generation_params["Refiner"] = target.short_title
    p.extra_generation_params["Refiner switch at"] = p.refiner_switch_at
    sd_models.reload_model_weights(info=target)
    p.setup_conds()
    denoiser.update_inner_model()
    return True


class Sampler:
    """What the k-diffusion and timestep samplers share: their CFG denoiser (`model_wrap_cfg`), the
    per-job set-up of it, the step callback, and the call into the sampling function."""

    def __init__(self, func, options=None):
        self.func = self.funcname = func
        self.options = dict(options or {})
        self.config = None  # the SamplerSpec of tests/webui_sampling.py
        self.p = self.eta = self.s_min_uncond = None
        self.model_wrap = self.model_wrap_cfg = None
        self.sampler_extra_args = None
        self.last_latent = None

    def callback_state(self, d):
        shared.state.sampling_step = d["i"]

    def initialize(self, p) -> dict:
        self.p = p
        denoiser = self.model_wrap_cfg
        denoiser.p, denoiser.step = p, 0
        denoiser.mask, denoiser.nmask = getattr(p, "mask", None), getattr(p, "nmask", None)
        self.eta = getattr(p, "eta", None)
        self.s_min_uncond = getattr(p, "s_min_uncond", 0.0)
        # the WebUI routes k-diffusion's fresh noise through the job's RNG; here: seeded by the batch's first seed
        torch.manual_seed(p.seeds[0])
        return {}

    def run_sampling(self, p, start, conditioning, unconditional_conditioning, image_conditioning, steps, **keywords):
        """Hand the sampling function the CFG denoiser, the start latent and the keywords it takes;
        an interrupt ends it with the last latent."""
        self.sampler_extra_args = {
            "cond": conditioning,
            "image_cond": image_conditioning,
            "uncond": unconditional_conditioning,
            "cond_scale": p.cfg_scale,
            "s_min_uncond": self.s_min_uncond,
        }
        accepted = inspect.signature(self.func).parameters
        if "callback" in accepted:
            keywords["callback"] = self.callback_state
        if "disable" in accepted:
            keywords["disable"] = True
        self.model_wrap_cfg.steps = steps
        shared.state.sampling_steps, shared.state.sampling_step = steps, 0
        try:
            return self.func(self.model_wrap_cfg, start, extra_args=self.sampler_extra_args, **keywords)
        except InterruptedException:
            return self.last_latent
