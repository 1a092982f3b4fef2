"""The Forge family as a flavour of the stand-in: WebUI Forge (lllyasviel, 2025), ersatzForge and
Forge Neo, written in our own code from how their img2img sampling behaves.

What sets them apart from AUTOMATIC1111, as far as a per-step hook can tell:
- the loaded model carries `forge_objects`; its predictor (`forge_objects.unet.model.predictor`) holds
  the model's sigmas and its `noise_scaling(sigma, noise, latent, max_denoise=False)`: latent + sigma
  noise for noise- and v-prediction models, (1 - sigma) latent + sigma noise for flow ('const')
  models. img2img starts from it; the model has no `add_noise_to_latent`;
- the CFG denoiser converts the timestep samplers' (DDIM, PLMS, UniPC) DDPM-scaled latent and
  timestep to a sigma itself, and with an inpaint mask it puts the original back where the rounded
  mask keeps, noised with fresh noise, before every model call (and blends after the call, through
  `on_mask_blend`, as A1111 does);
- ersatzForge runs exactly the steps asked: t_enc = steps asked, and the schedule's last t_enc + 1
  levels (A1111 and Forge: t_enc + 2); its timesteps are spaced 1000 / steps, rounded per step;
- Forge Neo runs UniPC as a sigma sampler, and its XYZ script keeps the img2img axis class in its
  `lib_xyz` package (the layout in tests/webui_stub/neo/xyz_grid.py).

`flavour(name, monkeypatch)` turns the stand-in into one of them for a test; `forge_model(kind)` wraps a
tiny model as that family loads it. Left out: the refiner switch, LoRA patching, the model's memory
management, prompt scheduling.
"""

from __future__ import annotations

import inspect
import sys
import types
from dataclasses import dataclass

import k_diffusion.external
import torch
from tiny_models import TinySD3, build_tiny_model
from webui_sampling import SAMPLERS, unipc_updates

from modules import scripts, sd_samplers, sd_samplers_cfg_denoiser, sd_samplers_common, sd_samplers_kdiffusion, sd_samplers_timesteps, shared


class Predictor:
    """A Forge model's predictor: its sigmas (ascending) and how it noises a clean latent."""

    def __init__(self, prediction_type: str, sigmas: torch.Tensor):
        self.prediction_type = prediction_type  # 'epsilon', 'v_prediction' or 'const' (flow)
        self.sigmas = sigmas

    def noise_scaling(self, sigma, noise, latent_image, max_denoise=False):
        if torch.is_tensor(sigma) and sigma.ndim > 0:  # one sigma per sample, whatever the latent's rank (Neo)
            sigma = sigma.reshape(sigma.shape[:1] + (1,) * (noise.ndim - 1))
        if self.prediction_type == "const":
            return sigma * noise + (1.0 - sigma) * latent_image
        scale = torch.sqrt(1.0 + sigma**2.0) if max_denoise else sigma
        return latent_image + noise * scale


@dataclass
class FamilyConfig:
    """Stands for the model's config class, whose name tells the family (e.g. Flux, WAN21)."""

    name: str


def config_of(name: str):
    return type(name, (FamilyConfig,), {})(name)


class ForgeModel:
    """A tiny model as the Forge family loads it: `forge_objects.unet.model` with its predictor and its
    config, encoding, decoding and conditioning from the tiny model, and a sigma-space denoiser.
    `frames`: the latent is a video latent (B, C, frames, H, W), as Neo keeps the latents of models
    with the Wan VAE (`is_wan`: Wan, and Qwen-Image and Anima with one frame)."""

    def __init__(self, kind: str = "sd1", family: str | None = None, frames: int | None = None):
        self.tiny = tiny = build_tiny_model(kind)
        self.kind = kind
        if isinstance(tiny, TinySD3):
            self.denoiser = tiny.create_denoiser()
            prediction = "const"
        elif tiny.parameterization == "v":
            self.denoiser, prediction = k_diffusion.external.CompVisVDenoiser(tiny, quantize=False), "v_prediction"
        else:
            self.denoiser, prediction = k_diffusion.external.CompVisDenoiser(tiny, quantize=False), "epsilon"
        self.predictor = Predictor(prediction, self.denoiser.sigmas)
        unet_model = types.SimpleNamespace(predictor=self.predictor, config=config_of(family or default_family(kind)))
        self.forge_objects = types.SimpleNamespace(unet=types.SimpleNamespace(model=unet_model))
        self.alphas_cumprod = 1.0 / (self.predictor.sigmas**2 + 1.0)
        self.latent_channels = getattr(tiny, "latent_channels", 4)
        self.is_sdxl = getattr(tiny, "is_sdxl", False)
        self.model = tiny.model  # the conditioning key: an inpainting checkpoint's is "hybrid"
        self.device = tiny.device
        self.decoded = []  # every latent batch handed to the decoder, for the tests
        self.is_wan, self.latent_frames = frames is not None, frames

    def encode_first_stage(self, image):
        latent = self.tiny.encode_first_stage(image)
        return latent if self.latent_frames is None else latent.unsqueeze(2).repeat(1, 1, self.latent_frames, 1, 1)

    def decode_first_stage(self, latent):
        self.decoded.append(latent.clone())
        picture = self.tiny.decode_first_stage(latent if latent.ndim == 4 else latent[:, :, 0])
        self.tiny.decoded.clear()
        return picture

    def get_learned_conditioning(self, prompts):
        return self.tiny.get_learned_conditioning(prompts)

    def denoise(self, x, sigma, cond):
        """The clean latent predicted from `x` at noise level `sigma` (sigma space); a video latent's
        frames each on their own."""
        if x.ndim == 4:
            return self.denoiser(x, sigma, cond=cond)
        frames = x.movedim(2, 1).flatten(0, 1)
        per_frame = {key: [value[0].repeat_interleave(x.shape[2], 0)] if isinstance(value, list) else value.repeat_interleave(x.shape[2], 0) for key, value in cond.items()}
        clean = self.denoiser(frames, sigma.repeat_interleave(x.shape[2]), cond=per_frame)
        return clean.unflatten(0, (x.shape[0], x.shape[2])).movedim(1, 2)


def default_family(kind: str) -> str:
    return {"sd1": "SD15", "sd1-inpainting": "SD15", "sd2-v": "SD20", "sdxl": "SDXL", "sd3": "SD3"}[kind]


class PredictorSchedule(k_diffusion.external.DiscreteSchedule):
    """The k-diffusion samplers' view of the model: the predictor's sigmas and the model's denoising."""

    def __init__(self, model: ForgeModel):
        super().__init__(model.predictor.sigmas, quantize=False)
        self.predictor = model.predictor
        self.inner_model = model

    def forward(self, input, sigma, **kwargs):
        return self.inner_model.denoise(input, sigma, **kwargs)


class ForgeCFGDenoiser(sd_samplers_cfg_denoiser.CFGDenoiser):
    """The Forge family's CFG denoiser: its own timestep conversion, the mask blended in before the
    model (rounded mask, fresh noise) and after it (through `on_mask_blend`)."""

    classic_ddim_eps_estimation = False

    def forward(self, x, sigma, uncond, cond, cond_scale, s_min_uncond, image_cond):
        if shared.state.interrupted or shared.state.skipped:
            raise sd_samplers_common.InterruptedException
        model = shared.sd_model
        predictor = model.forge_objects.unet.model.predictor
        if self.classic_ddim_eps_estimation:  # DDPM-scaled latent at an integer timestep -> sigma space
            sigma = predictor.sigmas.to(sigma.device)[sigma.round().long().clamp(0, len(predictor.sigmas) - 1)]
            x = x * (sigma**2 + 1.0).sqrt().view(-1, 1, 1, 1)
        if self.mask is not None:
            fresh = torch.randn_like(self.init_latent)
            x = x * self.nmask + predictor.noise_scaling(sigma.view(-1, 1, 1, 1), fresh, self.init_latent) * self.mask
        size = x.shape[0]
        both = sd_samplers_cfg_denoiser.catenate_conds([cond, uncond])
        crossattn = both if isinstance(both, dict) else {"c_crossattn": [both]}
        twice = (2,) + (1,) * (x.ndim - 1)
        out = model.denoise(x.repeat(twice), sigma.repeat(2), {**crossattn, "c_concat": [image_cond.repeat(2, 1, 1, 1)]})
        conditional, unconditional = out[:size], out[size:]
        if self.need_last_noise_uncond:
            self.last_noise_uncond = (x - unconditional) / sigma.view(-1, 1, 1, 1)  # the timestep samplers: 4-D only
        denoised = unconditional + (conditional - unconditional) * (cond_scale * self.cond_scale_miltiplier)
        if self.mask is not None:
            args = scripts.MaskBlendArgs(
                denoised, self.nmask, self.init_latent, self.mask, denoised * self.nmask + self.init_latent * self.mask, denoiser=self, sigma=sigma
            )
            if self.p.scripts is not None:
                self.p.scripts.on_mask_blend(self.p, args)
            denoised = args.blended_latent
        self.sampler.last_latent = denoised
        self.step += 1
        if self.classic_ddim_eps_estimation:
            return (x - denoised) / sigma.view(-1, 1, 1, 1)
        return denoised


class ForgeCFGDenoiserKDiffusion(ForgeCFGDenoiser):
    @property
    def inner_model(self):
        if self.model_wrap is None:
            self.model_wrap = PredictorSchedule(shared.sd_model)
        return self.model_wrap


class ForgeCFGDenoiserTimesteps(ForgeCFGDenoiser):
    classic_ddim_eps_estimation = True

    @property
    def inner_model(self):
        """Setting up the timestep samplers gives the model DDPM alphas made from its predictor's sigmas."""
        if self.model_wrap is None:
            model = shared.sd_model
            model.alphas_cumprod = 1.0 / (model.forge_objects.unet.model.predictor.sigmas ** 2.0 + 1.0)
            self.model_wrap = types.SimpleNamespace(inner_model=model)
        return self.model_wrap


@dataclass(frozen=True)
class Flavour:
    name: str
    version: str  # modules_forge.forge_version.version
    exact_steps: bool = False  # ersatzForge
    unipc_on_sigmas: bool = False  # Forge Neo


FLAVOURS = {
    "forge": Flavour("forge", "2.0.1v1.10.1"),
    "ersatz": Flavour("ersatz", "f2.ersatz", exact_steps=True),
    "neo": Flavour("neo", "neo", unipc_on_sigmas=True),
}


class ForgeKDiffusionSampler(sd_samplers_kdiffusion.KDiffusionSampler):
    flavour: Flavour

    def __init__(self, func, sd_model, options=None):
        sd_samplers_common.Sampler.__init__(self, func, options)
        self.model_wrap_cfg = ForgeCFGDenoiserKDiffusion(self)
        self.model_wrap = self.model_wrap_cfg.inner_model

    def img2img_part(self, full: torch.Tensor, steps: int, t_enc: int) -> torch.Tensor:
        """ersatzForge runs exactly t_enc steps; Forge and Neo one more, as 1.10 does."""
        return full[steps - t_enc :] if self.flavour.exact_steps else super().img2img_part(full, steps, t_enc)

    def noised_start(self, x: torch.Tensor, noise: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        """The predictor's noising of the init latent (flow models: (1 - s) x0 + s noise)."""
        return self.model_wrap.predictor.noise_scaling(level, noise, x, max_denoise=False)

class ForgeCompVisSampler(sd_samplers_timesteps.CompVisSampler):
    flavour: Flavour

    def __init__(self, func, sd_model, options=None):
        sd_samplers_common.Sampler.__init__(self, func, options)
        self.model_wrap_cfg = ForgeCFGDenoiserTimesteps(self)
        self.model_wrap = self.model_wrap_cfg.inner_model

    def get_timesteps(self, p, steps):
        if self.flavour.exact_steps:  # 1000 / steps apart, each rounded down on its own
            return torch.tensor([int(1 + index * 1000 / steps) for index in range(steps)]).clamp(0, 999)
        return super().get_timesteps(p, steps)

    def sample_img2img(self, p, x, noise, conditioning, unconditional_conditioning, steps=None, image_conditioning=None):
        """Noise the init latent with the model's DDPM alphas at the entry timestep (ersatzForge: the
        first one evaluated) and run the timesteps below it."""
        steps, t_enc = sd_samplers_common.setup_img2img_steps(p, steps)
        timesteps = self.get_timesteps(p, steps)
        abar = shared.sd_model.alphas_cumprod
        entry = abar[timesteps[t_enc - 1 if self.flavour.exact_steps else t_enc]]
        start = x.to(noise) * entry.sqrt() + noise * (1 - entry).sqrt()
        keywords = self.initialize(p)
        if "timesteps" in inspect.signature(self.func).parameters:
            keywords["timesteps"] = timesteps[:t_enc].flip(0)
        self.model_wrap_cfg.init_latent = self.last_latent = x
        return self.run_sampling(p, start, conditioning, unconditional_conditioning, image_conditioning, t_enc, alphas_cumprod=abar, **keywords)


def sample_unipc(model, x, sigmas, extra_args=None, callback=None, disable=None, variant="bh1"):
    """Forge Neo's UniPC, a sigma sampler: the UniPC updates on the job's own sigmas (the last one
    clamped to 0.001), on the DDPM-scaled latent x / sqrt(1 + s^2). The CFG denoiser gets the latent
    back in sigma space with the sigma, and its clean latent is the data prediction. The corrected
    state reaches `callback` as the updates hold it, DDPM-scaled."""
    extra_args = extra_args or {}
    s_in = x.new_ones([x.shape[0]])
    grid = sigmas.to(torch.float64).clone()
    grid[-1] = grid[-1].clamp_min(0.001)

    def alpha_sigma_lambda(sigma):
        alpha = 1 / (1 + sigma**2).sqrt()
        return alpha, sigma * alpha, -sigma.log()

    def clean(x_scaled, sigma):
        level = sigma.to(x.dtype)
        return model(x_scaled * (1 + level**2).sqrt(), level * s_in, **extra_args)

    order = max(1, min(3, len(sigmas) - 2))
    final = unipc_updates(x / (1 + sigmas[0] ** 2).sqrt(), grid, alpha_sigma_lambda, clean, order, variant, callback)
    return final / alpha_sigma_lambda(grid[-1])[0].to(x.dtype)


def create_sampler_for(flavour: Flavour):
    def create_sampler(name, model):
        spec = SAMPLERS[name]
        default_schedule = None if spec.scheduler == "automatic" else spec.scheduler
        options = {**spec.options, "scheduler": default_schedule}
        if spec.timestep and not (flavour.unipc_on_sigmas and name == "UniPC"):
            sampler = type("CompVisSampler", (ForgeCompVisSampler,), {"flavour": flavour})(spec.function, model, options)
        else:
            function = sample_unipc if name == "UniPC" else spec.function
            sampler = type("KDiffusionSampler", (ForgeKDiffusionSampler,), {"flavour": flavour})(function, model, options)
        sampler.config = spec
        return sampler

    return create_sampler


def exact_img2img_steps(p, steps=None):
    """ersatzForge: the steps asked are the steps run; the schedule is stretched to fit them."""
    wanted = steps or p.steps
    return (int(wanted / min(p.denoising_strength, 0.999)) if p.denoising_strength > 0 else 0), wanted


def flavour(name: str, monkeypatch) -> Flavour:
    """Make the stand-in behave as the Forge-family host `name` for the rest of the test."""
    chosen = FLAVOURS[name]
    package = types.ModuleType("modules_forge")
    package.__path__ = []
    version = types.ModuleType("modules_forge.forge_version")
    version.version = chosen.version
    package.forge_version = version
    monkeypatch.setitem(sys.modules, "modules_forge", package)
    monkeypatch.setitem(sys.modules, "modules_forge.forge_version", version)
    monkeypatch.setattr(sd_samplers, "create_sampler", create_sampler_for(chosen))
    if chosen.exact_steps:
        monkeypatch.setattr(sd_samplers_common, "setup_img2img_steps", exact_img2img_steps)
    return chosen


def forge_model(kind: str = "sd1", family: str | None = None, frames: int | None = None) -> ForgeModel:
    return ForgeModel(kind, family, frames)
