"""Which WebUI runs the job, and the few things about img2img sampling that differ between them.

AUTOMATIC1111 (1.7 to 1.10) and the Forge family (Forge, ersatzForge, Forge Neo) call the CFG denoiser
the same way, so one hook serves them all. They differ in how img2img noises its start (held pixels
must be noised the same way), in which part of the sampler's schedule img2img runs (the release
schedule must be that part), in whether the CFG denoiser blends the inpaint mask into the latent
before every model call (that would undo a soft map), in the models they serve (Neo's Qwen-Image and
Anima keep a still picture as a one-frame video latent) and in how their XYZ plot is laid out. `Host`
answers those questions; `current_host()` finds out which host this is, once per job.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass

import torch
from modules import scripts

from lib_diffdiff import SigmaSpace


class ModelNoising(SigmaSpace):
    """The sampler's sigmas, with held pixels noised by the model's own noising function, the one
    sample_img2img noises its start with (a flow model: (1 - s) x0 + s noise)."""

    def __init__(self, add_noise):
        self.add_noise = add_noise  # add_noise(original, noise, level) -> the original noised to level

    def noise_into(self, out: torch.Tensor, original: torch.Tensor, noise: torch.Tensor, level: torch.Tensor) -> None:
        level = torch.as_tensor(level, device=out.device).reshape(-1, *([1] * (out.ndim - 1)))
        out.copy_(self.add_noise(original, noise, level))


class UnsupportedModel(ValueError):
    """The loaded model is of a family whose latents or inputs a per-pixel map cannot address."""


# The Forge family's model config classes (`forge_objects.unet.model.config`), as users know them.
FAMILY_NAMES = {
    "SD15": "SD 1.5",
    "SD20": "SD 2.x",
    "SDXL": "SDXL",
    "SDXLRefiner": "SDXL refiner",
    "SD3": "SD 3.5",
    "Flux": "Flux",
    "FluxSchnell": "Flux schnell",
    "Chroma": "Chroma",
    "Flux2K4B": "Flux.2 Klein 4B",
    "Flux2K9B": "Flux.2 Klein 9B",
    "QwenImage": "Qwen-Image",
    "ZImage": "Z-Image",
    "Lumina2": "Lumina 2",
    "Anima": "Anima",
    "ErnieImage": "ERNIE-Image",
    "WAN21_T2V": "Wan 2.1",
    "WAN21_I2V": "Wan 2.1 image-to-video",
    "WAN22_T2V": "Wan 2.2",
}


@dataclass(frozen=True)
class Host:
    """One WebUI's img2img behaviour, as far as the hook depends on it."""

    name: str
    forge_backend: bool = False  # models carry `forge_objects`; img2img starts from the predictor's noise_scaling
    runs_exact_steps: bool = False  # img2img runs t_enc steps from sigmas[steps - t_enc:] (else t_enc + 1 steps)
    pre_blends_mask: bool = False  # the CFG denoiser puts the rounded mask's kept part back before every call
    unipc_on_sigmas: bool = False  # UniPC is a sigma sampler whose callback hands over its state divided by sqrt(1 + s^2)
    xyz_library: str | None = None  # the package that holds the XYZ plot's axis classes, where its script does not

    def noising(self, model) -> SigmaSpace | None:
        """How held pixels are noised on the sigma samplers: the model's own noising where the host
        starts img2img with it, else None (x0 + sigma * noise, the k-diffusion default)."""
        if self.forge_backend:
            predictor = model.forge_objects.unet.model.predictor
            return ModelNoising(lambda original, noise, level: predictor.noise_scaling(level, noise, original, max_denoise=False))
        add_noise = getattr(model, "add_noise_to_latent", None)  # A1111's SD3
        return ModelNoising(add_noise) if add_noise is not None else None

    def img2img_sigmas(self, sigmas: torch.Tensor, steps: int, t_enc: int) -> torch.Tensor:
        """The part of the sampler's full schedule (`steps` levels and the final one) that img2img runs,
        ending level included, as sample_img2img slices it."""
        return sigmas[steps - t_enc :] if self.runs_exact_steps else sigmas[steps - t_enc - 1 :]

    def check_model(self, model, latent: torch.Tensor) -> None:
        """Fails, naming the family, for models a per-pixel map cannot serve: video (more than one
        frame) and edit models that take a reference picture beside the latent."""
        family = model_family(model)
        if latent.ndim == 5 and latent.shape[2] != 1:
            raise UnsupportedModel(
                f"{family} makes video ({latent.shape[2]} frames); Differential Diffusion edits still pictures (one frame)"
            )
        if latent.ndim not in (4, 5):
            raise UnsupportedModel(f"{family} has {latent.ndim}-D latents; Differential Diffusion edits still pictures")
        reference = self.reference_edit(model)
        if reference is not None:
            raise UnsupportedModel(
                f"{reference} edits from a reference picture given beside the latent, which a per-pixel map cannot steer; "
                "turn the reference off or load a plain model"
            )

    def reference_edit(self, model) -> str | None:
        """The reference-picture edit model this job runs, or None: Neo flags Kontext and Qwen-Image-Edit
        checkpoints and keeps the reference latents in `backend.args.dynamic_args`; ersatzForge feeds Kontext
        through its "Other control" script, which keeps the reference latent on its class."""
        if not self.forge_backend:
            return None
        dynamic = getattr(sys.modules.get("backend.args"), "dynamic_args", None)
        if dynamic is not None:
            if getattr(dynamic, "kontext", False):
                return "Flux Kontext"
            if getattr(dynamic, "edit", False):
                return "Qwen-Image-Edit"
            if getattr(dynamic, "ref_latents", None):
                return f"{model_family(model)} with reference images"
        for data in scripts.scripts_data:
            if data.script_class.__name__ == "ersatzOtherControl" and getattr(data.script_class, "kontext_latent", None) is not None:
                return "Flux Kontext"
        return None

    def xyz_axis_class(self, xyz_grid):
        """The XYZ plot's img2img-only axis class: its script's own, else (Neo) its library's; the
        plain axis class where neither has one."""
        found = getattr(xyz_grid, "AxisOptionImg2Img", None)
        if found is None and self.xyz_library is not None:
            found = getattr(sys.modules.get(f"{self.xyz_library}.classes"), "AxisOptionImg2Img", None)
        return found or xyz_grid.AxisOption


A1111 = Host("AUTOMATIC1111")
FORGE = Host("Forge", forge_backend=True, pre_blends_mask=True)
ERSATZ_FORGE = Host("ersatzForge", forge_backend=True, runs_exact_steps=True, pre_blends_mask=True)
FORGE_NEO = Host("Forge Neo", forge_backend=True, pre_blends_mask=True, unipc_on_sigmas=True, xyz_library="lib_xyz")


def current_host() -> Host:
    """The host this process runs in: the Forge family ships `modules_forge`, whose version string
    names the fork ("f2.ersatz", "neo"; Forge's is "2.0.1v1.10.1"); A1111 has no such package."""
    try:
        version = str(getattr(importlib.import_module("modules_forge.forge_version"), "version", "")).lower()
    except ImportError:
        return A1111
    if "ersatz" in version:
        return ERSATZ_FORGE
    if "neo" in version:
        return FORGE_NEO
    return FORGE


def model_family(model) -> str:
    """The loaded model's family as users know it, from its Forge config class (else its class name)."""
    config = getattr(getattr(getattr(getattr(model, "forge_objects", None), "unet", None), "model", None), "config", None)
    name = type(config).__name__ if config is not None else type(model).__name__
    return FAMILY_NAMES.get(name, name)


def still_picture(latent: torch.Tensor) -> torch.Tensor:
    """A still picture's latent as (B, C, H, W): Neo keeps Qwen-Image's and Anima's as one-frame video
    latents (B, C, 1, H, W); the view shares their storage, so writing into it writes the job's latent."""
    return latent[:, :, 0] if latent.ndim == 5 else latent
