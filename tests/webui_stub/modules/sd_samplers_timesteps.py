"""modules/sd_samplers_timesteps.py: DDIM, DDIM CFG++, PLMS and UniPC on timesteps; the denoiser returns noise."""

import inspect

import torch

from modules import sd_samplers_cfg_denoiser, sd_samplers_common, shared


class CompVisTimestepsDenoiser(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.inner_model = model

    def forward(self, input, timesteps, **kwargs):
        return self.inner_model.apply_model(input, timesteps, **kwargs)


class CompVisTimestepsVDenoiser(CompVisTimestepsDenoiser):
    def forward(self, input, timesteps, **kwargs):
        v = self.inner_model.apply_model(input, timesteps, **kwargs)
        alphas = self.inner_model.alphas_cumprod[timesteps.to(torch.int)][:, None, None, None]
        return alphas.sqrt() * v + (1 - alphas).sqrt() * input


class CFGDenoiserTimesteps(sd_samplers_cfg_denoiser.CFGDenoiser):
    def __init__(self, sampler):
        super().__init__(sampler)
        self.alphas = shared.sd_model.alphas_cumprod
        self.mask_before_denoising = True

    def get_pred_x0(self, x_in, x_out, sigma):
        a_t = self.alphas[sigma.to(dtype=int)][:, None, None, None]
        return (x_in - (1 - a_t).sqrt() * x_out) / a_t.sqrt()

    @property
    def inner_model(self):
        if self.model_wrap is None:
            denoiser = CompVisTimestepsVDenoiser if shared.sd_model.parameterization == "v" else CompVisTimestepsDenoiser
            self.model_wrap = denoiser(shared.sd_model)
        return self.model_wrap


class CompVisSampler(sd_samplers_common.Sampler):
    def __init__(self, func, sd_model, options=None):
        super().__init__(func)
        self.options = options or {}
        self.model_wrap_cfg = CFGDenoiserTimesteps(self)
        self.model_wrap = self.model_wrap_cfg.inner_model

    def get_timesteps(self, p, steps):
        return torch.clip(torch.asarray(list(range(0, 1000, 1000 // steps))) + 1, 0, 999)

    def sample_img2img(self, p, x, noise, conditioning, unconditional_conditioning, steps=None, image_conditioning=None):
        steps, t_enc = sd_samplers_common.setup_img2img_steps(p, steps)
        timesteps = self.get_timesteps(p, steps)
        timesteps_sched = timesteps[:t_enc]
        alphas_cumprod = shared.sd_model.alphas_cumprod
        xi = x * alphas_cumprod[timesteps[t_enc]].sqrt() + noise * (1 - alphas_cumprod[timesteps[t_enc]]).sqrt()

        extra_params_kwargs = self.initialize(p)
        if "timesteps" in inspect.signature(self.func).parameters:
            extra_params_kwargs["timesteps"] = timesteps_sched.flip(0)  # the WebUI's implementations flip them
        self.model_wrap_cfg.init_latent = x
        self.last_latent = x
        self.sampler_extra_args = {
            "cond": conditioning,
            "image_cond": image_conditioning,
            "uncond": unconditional_conditioning,
            "cond_scale": p.cfg_scale,
            "s_min_uncond": self.s_min_uncond,
        }
        return self.launch_sampling(t_enc + 1, lambda: self.call_func(xi, alphas_cumprod=alphas_cumprod, **extra_params_kwargs))
