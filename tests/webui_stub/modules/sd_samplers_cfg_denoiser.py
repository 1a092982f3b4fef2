"""Stand-in for modules/sd_samplers_cfg_denoiser.py: the CFG denoiser every sampler calls.

A sampler calls it with its own latent `x` and level `sigma` (a timestep for the timestep samplers).
It checks for an interrupt, lets the refiner switch happen, runs the model once on cond and uncond
together, guides, and blends through the inpainting latent mask: after the model for k-diffusion,
before it (on a new tensor) for the timestep samplers. Subclasses give `inner_model` and the
clean-latent estimate; `forward` stays here.
"""

import torch

from modules import scripts, sd_samplers_common, shared


def catenate_conds(conds):
    """Conditioning of several batches as one: tensors end to end, dicts key by key (SDXL)."""
    first = conds[0]
    if isinstance(first, dict):
        return {key: torch.cat([cond[key] for cond in conds]) for key in first}
    return torch.cat(conds)


class CFGDenoiser(torch.nn.Module):
    mask_before_denoising = False

    def __init__(self, sampler):
        super().__init__()
        self.sampler = sampler
        self.p = self.init_latent = None
        self.mask = self.nmask = None
        self.model_wrap = None
        self.steps, self.step = None, 0
        # DDIM CFG++ reads the unconditional prediction and scales guidance (sic: the WebUI's spelling)
        self.cond_scale_miltiplier = 1.0
        self.need_last_noise_uncond, self.last_noise_uncond = False, None

    @property
    def inner_model(self):
        raise NotImplementedError

    def update_inner_model(self):
        """After a checkpoint switch: the inner model is built again from the new one, with its conditioning."""
        self.model_wrap = None
        self.sampler.sampler_extra_args["cond"], self.sampler.sampler_extra_args["uncond"] = self.p.get_conds()

    def get_pred_x0(self, x_in, x_out, sigma):
        return x_out

    def blend(self, latent, sigma):
        """Inpainting: paint where `nmask`, keep `init_latent` where `mask`; scripts may change the result."""
        args = scripts.MaskBlendArgs(
            latent, self.nmask, self.init_latent, self.mask, latent * self.nmask + self.init_latent * self.mask, denoiser=self, sigma=sigma
        )
        if self.p.scripts is not None:
            self.p.scripts.on_mask_blend(self.p, args)
        return args.blended_latent

    def forward(self, x, sigma, uncond, cond, cond_scale, s_min_uncond, image_cond):
        if shared.state.interrupted or shared.state.skipped:
            raise sd_samplers_common.InterruptedException
        if sd_samplers_common.apply_refiner(self, sigma):
            cond, uncond = self.sampler.sampler_extra_args["cond"], self.sampler.sampler_extra_args["uncond"]
        inpainting = self.mask is not None
        if inpainting and self.mask_before_denoising:
            x = self.blend(x, sigma)
        size = x.shape[0]
        both = catenate_conds([cond, uncond])
        crossattn = both if isinstance(both, dict) else {"c_crossattn": [both]}
        out = self.inner_model(
            x.repeat(2, 1, 1, 1), sigma.repeat(2), cond={**crossattn, "c_concat": [image_cond.repeat(2, 1, 1, 1)]}
        )
        conditional, unconditional = out[:size], out[size:]
        if self.need_last_noise_uncond:
            self.last_noise_uncond = unconditional.clone()
        guided = unconditional + (conditional - unconditional) * (cond_scale * self.cond_scale_miltiplier)
        if inpainting and not self.mask_before_denoising:
            guided = self.blend(guided, sigma)
        self.sampler.last_latent = self.get_pred_x0(x, guided, sigma)
        self.step += 1
        return guided
