"""Stand-in for modules/sd_samplers_timesteps.py: DDIM, DDIM CFG++, PLMS and UniPC (updates in
tests/webui_sampling.py) on integer timesteps. Their denoiser returns the predicted noise, and the
inpainting blend happens on the model's input."""

import inspect

import torch

from modules import sd_samplers_cfg_denoiser, sd_samplers_common, shared


class CompVisTimestepsDenoiser(torch.nn.Module):
    """The checkpoint's noise prediction at a timestep; for a v-prediction checkpoint, v turned into noise."""

    def __init__(self, model):
        super().__init__()
        self.inner_model = model

    def forward(self, input, timesteps, **kwargs):
        model = self.inner_model
        prediction = model.apply_model(input, timesteps, **kwargs)
        if model.parameterization != "v":
            return prediction
        abar = model.alphas_cumprod[timesteps.long()].view(-1, 1, 1, 1)
        return (1 - abar).sqrt() * input + abar.sqrt() * prediction


class CFGDenoiserTimesteps(sd_samplers_cfg_denoiser.CFGDenoiser):
    mask_before_denoising = True

    def __init__(self, sampler):
        super().__init__(sampler)
        self.alphas = shared.sd_model.alphas_cumprod

    @property
    def inner_model(self):
        if self.model_wrap is None:
            self.model_wrap = CompVisTimestepsDenoiser(shared.sd_model)
        return self.model_wrap

    def get_pred_x0(self, x_in, x_out, sigma):
        """The clean latent implied by noise `x_out` at timestep `sigma`."""
        abar = self.alphas[sigma.long()].view(-1, 1, 1, 1)
        return (x_in - (1 - abar).sqrt() * x_out) / abar.sqrt()


class CompVisSampler(sd_samplers_common.Sampler):
    def __init__(self, func, sd_model, options=None):
        super().__init__(func, options)
        self.model_wrap_cfg = CFGDenoiserTimesteps(self)
        self.model_wrap = self.model_wrap_cfg.inner_model

    def get_timesteps(self, p, steps):
        """`steps` timesteps, evenly strided from 1 upwards (ascending)."""
        return (torch.arange(0, 1000, 1000 // steps) + 1).clamp(0, 999)

    def sample_img2img(self, p, x, noise, conditioning, unconditional_conditioning, steps=None, image_conditioning=None):
        """Noise the init latent to the timestep where img2img enters (index t_enc) and run the t_enc
        timesteps below it; tests/webui_sampling.py's updates take them highest first."""
        steps, t_enc = sd_samplers_common.setup_img2img_steps(p, steps)
        timesteps = self.get_timesteps(p, steps)
        abar = shared.sd_model.alphas_cumprod
        entry = abar[timesteps[t_enc]]
        start = x * entry.sqrt() + noise * (1 - entry).sqrt()
        keywords = self.initialize(p)
        if "timesteps" in inspect.signature(self.func).parameters:
            keywords["timesteps"] = timesteps[:t_enc].flip(0)
        self.model_wrap_cfg.init_latent = self.last_latent = x
        return self.run_sampling(p, start, conditioning, unconditional_conditioning, image_conditioning, t_enc + 1, alphas_cumprod=abar, **keywords)
