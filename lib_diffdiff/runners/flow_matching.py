"""Rectified-flow models: Stable Diffusion 3 and Flux img2img with a change map.

Their schedulers noise the init latent with `scale_noise` ((1 - s) x0 + s n); DifferentialRun
captures that noise and injects held pixels at each next sigma s. Flux carries its latents packed in
2x2 patches; the map is packed the same way.
"""

from __future__ import annotations

from PIL import Image

from .base import SinglePipelineRunner


class _FlowRunner(SinglePipelineRunner):
    """Both pipelines resize to a fixed square (1024 px) unless told a size: the runners default to the
    image's own size, rounded down to the multiple the transformer's patches need."""

    def working_size(self, image) -> dict:
        if not isinstance(image, Image.Image):
            return {}
        multiple = self.size_multiple
        return {"width": max(multiple, image.width // multiple * multiple), "height": max(multiple, image.height // multiple * multiple)}


class StableDiffusion3(_FlowRunner):
    """Stable Diffusion 3 / 3.5 on diffusers' `StableDiffusion3Img2ImgPipeline`."""

    family = "Stable Diffusion 3"
    pipeline_name = "StableDiffusion3Img2ImgPipeline"
    default_model = "stabilityai/stable-diffusion-3-medium-diffusers"
    default_guidance = 7.0

    @property
    def size_multiple(self) -> int:
        return self.pipe.vae_scale_factor * self.pipe.patch_size


class Flux(_FlowRunner):
    """FLUX.1 on diffusers' `FluxImg2ImgPipeline` (dev by default; schnell with --model and few steps).

    `guidance` is Flux-dev's distilled guidance (schnell ignores it); a negative prompt takes effect
    only with the pipeline's `true_cfg_scale` > 1."""

    family = "Flux"
    pipeline_name = "FluxImg2ImgPipeline"
    default_model = "black-forest-labs/FLUX.1-dev"
    default_guidance = 3.5

    @property
    def pixels_per_latent(self) -> int:
        return self.pipe.vae_scale_factor  # its image processor counts in 2x2 patches: twice this

    @property
    def size_multiple(self) -> int:
        return self.pipe.vae_scale_factor * 2
