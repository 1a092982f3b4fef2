"""Stand-in for modules/sd_samplers_kdiffusion.py: img2img on k-diffusion's sampler functions (and the
WebUI's own Restart and LCM, from tests/webui_sampling.py), on sigmas."""

import inspect

import k_diffusion.external
import k_diffusion.sampling
import torch

from modules import sd_samplers_cfg_denoiser, sd_samplers_common, sd_schedulers, shared


class CFGDenoiserKDiffusion(sd_samplers_cfg_denoiser.CFGDenoiser):
    @property
    def inner_model(self):
        """k-diffusion's wrapper of the loaded checkpoint; a checkpoint with `create_denoiser` (SD3 in
        1.10) builds its own."""
        if self.model_wrap is None:
            model = shared.sd_model
            if hasattr(model, "create_denoiser"):
                self.model_wrap = model.create_denoiser()
            elif model.parameterization == "v":
                self.model_wrap = k_diffusion.external.CompVisVDenoiser(model, quantize=False)
            else:
                self.model_wrap = k_diffusion.external.CompVisDenoiser(model, quantize=False)
        return self.model_wrap


class KDiffusionSampler(sd_samplers_common.Sampler):
    def __init__(self, func, sd_model, options=None):
        super().__init__(func, options)
        self.model_wrap_cfg = CFGDenoiserKDiffusion(self)
        self.model_wrap = self.model_wrap_cfg.inner_model

    def get_sigmas(self, p, steps):
        """The job's full schedule of `steps` levels (plus the final one): its schedule type, or the
        sampler's default for Automatic; DPM2 and DPM++ 3M SDE drop the next-to-last level."""
        drop_penultimate = self.options.get("discard_next_to_last_sigma", False)
        label = p.scheduler or "Automatic"
        scheduler = sd_schedulers.schedulers_map.get(self.options.get("scheduler") if label == "Automatic" else label)
        count = steps + 1 if drop_penultimate else steps
        if scheduler is None or scheduler.function is None:
            sigmas = self.model_wrap.get_sigmas(count)
        else:
            if scheduler.label != "Automatic":
                p.extra_generation_params["Schedule type"] = scheduler.label
            extra = {"inner_model": self.model_wrap} if scheduler.need_inner_model else {}
            low, high = self.model_wrap.sigmas[0].item(), self.model_wrap.sigmas[-1].item()
            sigmas = scheduler.function(n=count, sigma_min=low, sigma_max=high, device="cpu", **extra)
        if drop_penultimate:
            sigmas = torch.cat([sigmas[:-2], sigmas[-1:]])
        return sigmas.cpu()

    def sample_img2img(self, p, x, noise, conditioning, unconditional_conditioning, steps=None, image_conditioning=None):
        """Noise the init latent to the level where img2img enters the schedule and sample from there."""
        steps, t_enc = sd_samplers_common.setup_img2img_steps(p, steps)
        full = self.get_sigmas(p, steps)
        schedule = self.img2img_part(full, steps, t_enc)
        x = x.to(noise)
        start = self.noised_start(x, noise, schedule[0])
        keywords = self.initialize(p)
        accepted = inspect.signature(self.func).parameters
        if "sigmas" in accepted:
            keywords["sigmas"] = schedule
        if "n" in accepted:  # DPM fast and DPM adaptive choose their own levels between these ends
            keywords["n"] = len(schedule) - 1
        if "sigma_max" in accepted:
            keywords["sigma_min"], keywords["sigma_max"] = schedule[-2], schedule[0]
        if self.options.get("brownian_noise", False):
            # SDE samplers: one Brownian tree per seed of the batch, over the whole schedule's range
            positive = full[full > 0]
            keywords["noise_sampler"] = k_diffusion.sampling.BrownianTreeNoiseSampler(x, positive.min(), positive.max(), seed=list(p.seeds))
        if self.options.get("solver_type") == "heun":
            keywords["solver_type"] = "heun"
        self.model_wrap_cfg.init_latent = self.last_latent = x
        return self.run_sampling(p, start, conditioning, unconditional_conditioning, image_conditioning, len(schedule) - 1, **keywords)

    def img2img_part(self, full: torch.Tensor, steps: int, t_enc: int) -> torch.Tensor:
        """1.10 enters the schedule one level above its last t_enc steps, so it runs t_enc + 1 steps."""
        return full[steps - t_enc - 1 :]

    def noised_start(self, x: torch.Tensor, noise: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        """x0 + level * noise; a checkpoint with `add_noise_to_latent` (SD3 in 1.10) noises its own way."""
        model = shared.sd_model
        if hasattr(model, "add_noise_to_latent"):
            return model.add_noise_to_latent(x, noise, level)
        return x + noise * level
