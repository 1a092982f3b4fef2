"""Stable Diffusion 1.x/2.x and SDXL img2img with a change map."""

from __future__ import annotations

from .base import SinglePipelineRunner


class StableDiffusion(SinglePipelineRunner):
    """Stable Diffusion 1.x / 2.x on diffusers' `StableDiffusionImg2ImgPipeline`."""

    family = "Stable Diffusion"
    pipeline_name = "StableDiffusionImg2ImgPipeline"
    default_model = "stable-diffusion-v1-5/stable-diffusion-v1-5"
    default_guidance = 7.5


class StableDiffusionXL(SinglePipelineRunner):
    """SDXL on diffusers' `StableDiffusionXLImg2ImgPipeline`."""

    family = "Stable Diffusion XL"
    pipeline_name = "StableDiffusionXLImg2ImgPipeline"
    default_model = "stabilityai/stable-diffusion-xl-base-1.0"
    default_guidance = 5.0
