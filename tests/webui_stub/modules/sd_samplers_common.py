"""modules/sd_samplers_common.py: img2img step arithmetic, the interrupt exception, the Sampler base."""

import inspect

import torch

from modules import shared


def setup_img2img_steps(p, steps=None):
    if shared.opts.img2img_fix_steps or steps is not None:
        requested_steps = steps or p.steps
        steps = int(requested_steps / min(p.denoising_strength, 0.999)) if p.denoising_strength > 0 else 0
        t_enc = requested_steps - 1
    else:
        steps = p.steps
        t_enc = int(min(p.denoising_strength, 0.999) * steps)
    return steps, t_enc


class InterruptedException(BaseException):
    pass


class Sampler:
    def __init__(self, funcname):
        self.funcname = funcname
        self.func = funcname
        self.extra_params = []
        self.config = None
        self.last_latent = None
        self.s_min_uncond = None
        self.model_wrap = None
        self.model_wrap_cfg = None
        self.sampler_extra_args = None

    def callback_state(self, d):
        shared.state.sampling_step = d["i"]

    def launch_sampling(self, steps, func):
        self.model_wrap_cfg.steps = steps
        shared.state.sampling_steps = steps
        shared.state.sampling_step = 0
        try:
            return func()
        except InterruptedException:
            return self.last_latent

    def initialize(self, p) -> dict:
        self.p = p
        self.model_wrap_cfg.p = p
        self.model_wrap_cfg.mask = p.mask if hasattr(p, "mask") else None
        self.model_wrap_cfg.nmask = p.nmask if hasattr(p, "nmask") else None
        self.model_wrap_cfg.step = 0
        self.eta = getattr(p, "eta", None)
        self.s_min_uncond = getattr(p, "s_min_uncond", 0.0)
        torch.manual_seed(p.seeds[0])  # the WebUI's TorchHijack: the sampler's fresh noise follows the job's seed
        return {}

    def call_func(self, xi, **kwargs):
        """self.func(model_wrap_cfg, xi, ...) with the keywords its signature takes, as the WebUI does."""
        parameters = inspect.signature(self.func).parameters
        if "callback" in parameters:
            kwargs["callback"] = self.callback_state
        if "disable" in parameters:
            kwargs["disable"] = True
        return self.func(self.model_wrap_cfg, xi, extra_args=self.sampler_extra_args, **kwargs)
