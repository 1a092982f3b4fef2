"""modules/sd_samplers_cfg_denoiser.py: classifier-free guidance around the model, with the inpainting blend."""

import torch

from modules import sd_samplers_common, shared


def catenate_conds(conds):
    if not isinstance(conds[0], dict):
        return torch.cat(conds)
    return {key: torch.cat([x[key] for x in conds]) for key in conds[0]}


class CFGDenoiser(torch.nn.Module):
    """Called by the samplers with their own x; returns the guided prediction of the clean latent."""

    def __init__(self, sampler):
        super().__init__()
        self.model_wrap = None
        self.mask = None
        self.nmask = None
        self.init_latent = None
        self.steps = None
        self.step = 0
        self.p = None
        self.mask_before_denoising = False
        self.sampler = sampler
        self.cond_scale_miltiplier = 1.0  # (sic, the WebUI's name) DDIM CFG++ sets 1 / 12.5
        self.need_last_noise_uncond = False  # DDIM CFG++ reads the unconditional noise of each call
        self.last_noise_uncond = None

    @property
    def inner_model(self):
        raise NotImplementedError

    def get_pred_x0(self, x_in, x_out, sigma):
        return x_out

    def combine_denoised(self, x_out, batch_size, cond_scale):
        denoised_uncond = x_out[-batch_size:]
        return denoised_uncond + (x_out[:batch_size] - denoised_uncond) * cond_scale

    def forward(self, x, sigma, uncond, cond, cond_scale, s_min_uncond, image_cond):
        if shared.state.interrupted or shared.state.skipped:
            raise sd_samplers_common.InterruptedException

        def apply_blend(current_latent):
            blended_latent = current_latent * self.nmask + self.init_latent * self.mask
            if self.p.scripts is not None:
                from modules import scripts

                mba = scripts.MaskBlendArgs(
                    current_latent, self.nmask, self.init_latent, self.mask, blended_latent, denoiser=self, sigma=sigma
                )
                self.p.scripts.on_mask_blend(self.p, mba)
                blended_latent = mba.blended_latent
            return blended_latent

        if self.mask_before_denoising and self.mask is not None:
            x = apply_blend(x)

        batch_size = x.shape[0]
        if isinstance(uncond, dict):
            make_condition_dict = lambda c_crossattn, c_concat: {**c_crossattn, "c_concat": [c_concat]}
        else:
            make_condition_dict = lambda c_crossattn, c_concat: {"c_crossattn": [c_crossattn], "c_concat": [c_concat]}

        x_in = torch.cat([x, x])
        sigma_in = torch.cat([sigma, sigma])
        image_cond_in = torch.cat([image_cond, image_cond])
        cond_in = catenate_conds([cond, uncond])
        x_out = self.inner_model(x_in, sigma_in, cond=make_condition_dict(cond_in, image_cond_in))

        if self.need_last_noise_uncond:
            self.last_noise_uncond = x_out[-batch_size:].clone()
        denoised = self.combine_denoised(x_out, batch_size, cond_scale * self.cond_scale_miltiplier)

        if not self.mask_before_denoising and self.mask is not None:
            denoised = apply_blend(denoised)

        self.sampler.last_latent = self.get_pred_x0(x, denoised, sigma)
        self.step += 1
        return denoised
