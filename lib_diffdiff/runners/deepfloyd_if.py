"""DeepFloyd IF: stage I img2img at 64 px and stage II super-resolution at 256 px, each with the map.

Both stages work on pixels, so the map is fitted to each stage's own working size (64 px, then
256 px), as the reference implementation does. Stage II conditions on stage I's result, upscaled and
noised to `noise_level` by the pipeline's separate image-noising scheduler; that noise is the
pipeline's own and is not touched: the map governs only the image being denoised, which starts from
the original at 256 px. An optional stage III (the x4 upscaler) runs without a map.
"""

from __future__ import annotations

import torch

from ..injection import CONTINUOUS
from ..maps import MapOptions
from .base import check_strength, diffusers_class, read_image
from .core import DifferentialRun, load_pipeline, place, seeded_generator


class DeepFloydIF:
    """IF on diffusers' `IFImg2ImgPipeline`, `IFImg2ImgSuperResolutionPipeline` and, optionally, `StableDiffusionUpscalePipeline`."""

    family = "DeepFloyd IF"
    default_model = "DeepFloyd/IF-I-XL-v1.0"
    default_stage_2 = "DeepFloyd/IF-II-L-v1.0"
    default_stage_3 = "stabilityai/stable-diffusion-x4-upscaler"
    default_guidance = 10.0  # stage I's

    def __init__(self, stage_1, stage_2, stage_3=None):
        self.stage_1 = stage_1
        self.stage_2 = stage_2
        self.stage_3 = stage_3

    @classmethod
    def load(
        cls,
        model: str | None = None,
        *,
        stage_2_model: str | None = None,
        stage_3_model: str | None = None,
        upscale: bool = False,
        device: str = "cuda",
        dtype=torch.float16,
        offload: bool = False,
        variant=None,
    ):
        """Load stage I (with the T5 text encoder), stage II (without one) and, with `upscale`, stage III."""
        options = dict(dtype=dtype, variant=variant)
        stage_1 = load_pipeline(diffusers_class("IFImg2ImgPipeline"), model or cls.default_model, f"{cls.family} stage I", **options)
        stage_2 = load_pipeline(
            diffusers_class("IFImg2ImgSuperResolutionPipeline"),
            stage_2_model or cls.default_stage_2,
            f"{cls.family} stage II",
            option="--stage-2-model",
            text_encoder=None,
            **options,
        )
        stage_3 = None
        if upscale:
            stage_3 = load_pipeline(
                diffusers_class("StableDiffusionUpscalePipeline"),
                stage_3_model or cls.default_stage_3,
                f"{cls.family} stage III (x4 upscaler)",
                option="--stage-3-model",
                dtype=dtype,
            )
            stage_3 = place(stage_3, device, offload)
        return cls(place(stage_1, device, offload), place(stage_2, device, offload), stage_3)

    def __call__(
        self,
        image,
        change_map,
        prompt=None,
        *,
        negative_prompt=None,
        prompt_embeds=None,
        negative_prompt_embeds=None,
        steps: int = 50,
        stage_2_steps: int = 50,
        strength: float = 1.0,
        guidance: float = default_guidance,
        stage_2_guidance: float = 4.0,
        noise_level: int = 250,
        upscale_steps: int = 75,
        upscale_noise_level: int = 100,
        upscale_guidance: float = 9.0,
        seed: int = 0,
        map_options: MapOptions | None = None,
        future_hinting: bool = True,
        release_rule: str = CONTINUOUS,
        output_type: str = "pil",
    ):
        """Edit `image` as `change_map` allows; returns stage II's image, or stage III's where there is one."""
        if prompt_embeds is None:
            if prompt is None:
                raise ValueError("prompt: give a prompt, or prompt_embeds and negative_prompt_embeds")
            prompt_embeds, negative_prompt_embeds = self.stage_1.encode_prompt(prompt, negative_prompt=negative_prompt, clean_caption=False)
        if self.stage_3 is not None and prompt is None:
            raise ValueError("prompt: the stage III upscaler needs the prompt as text")
        image = read_image(image)
        strength = check_strength(strength)
        embeddings = dict(prompt_embeds=prompt_embeds, negative_prompt_embeds=negative_prompt_embeds)
        stage_options = dict(options=map_options, future_hinting=future_hinting, release_rule=release_rule, pixels_per_latent=1)
        small = DifferentialRun(self.stage_1, change_map, **stage_options)(
            image=image,
            num_inference_steps=int(steps),
            strength=strength,
            guidance_scale=guidance,
            generator=seeded_generator(seed),
            output_type="pt",
            **embeddings,
        ).images
        final_stage = self.stage_3 is None
        large = DifferentialRun(self.stage_2, change_map, **stage_options)(
            image=small,
            original_image=image,
            num_inference_steps=int(stage_2_steps),
            strength=strength,
            guidance_scale=stage_2_guidance,
            noise_level=int(noise_level),
            generator=seeded_generator(seed),
            output_type=output_type if final_stage else "pt",
            **embeddings,
        ).images
        if final_stage:
            return large[0]
        return self.stage_3(
            prompt=prompt,
            negative_prompt=negative_prompt,
            image=(large / 2 + 0.5).clamp(0, 1),  # IF works in [-1, 1], the upscaler takes tensors in [0, 1]
            num_inference_steps=int(upscale_steps),
            noise_level=int(upscale_noise_level),
            guidance_scale=upscale_guidance,
            generator=seeded_generator(seed),
            output_type=output_type,
        ).images[0]
