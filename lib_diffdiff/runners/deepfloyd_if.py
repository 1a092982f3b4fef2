"""DeepFloyd IF: stage I img2img at 64 px and stage II super-resolution at 256 px, each with the map.

Both stages work on pixels, so the map is fitted to each stage's own working size (64 px, then
256 px), as the reference implementation does. Stage II conditions on stage I's result, upscaled and
noised to `noise_level` by the pipeline's separate image-noising scheduler; that noise is the
pipeline's own and is not touched: the map governs only the image being denoised, which starts from
the original at 256 px. An optional stage III (the x4 upscaler) runs without a map.
"""

from __future__ import annotations

from PIL import Image

from .base import Edit, Runner
from .core import seeded_generator


class DeepFloydIF(Runner):
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

    def fitted_input(self, picture, size):
        """IF's pipelines resize the input bicubically (no reducing gap)."""
        return picture.resize(size, Image.BICUBIC, reducing_gap=None)

    @classmethod
    def load_parts(
        cls, model: str, *, dtype, variant, stage_2_model: str | None = None, stage_3_model: str | None = None, upscale: bool = False
    ):
        """Stage I (with the T5 text encoder), stage II (without one) and, with `upscale`, stage III."""
        stage_1 = cls.load_part("IFImg2ImgPipeline", model, "stage I", dtype=dtype, variant=variant)
        stage_2 = cls.load_part(
            "IFImg2ImgSuperResolutionPipeline",
            stage_2_model or cls.default_stage_2,
            "stage II",
            "--stage-2-model",
            text_encoder=None,
            dtype=dtype,
            variant=variant,
        )
        stage_3 = None
        if upscale:
            upscaler = stage_3_model or cls.default_stage_3
            stage_3 = cls.load_part("StableDiffusionUpscalePipeline", upscaler, "stage III (x4 upscaler)", "--stage-3-model", dtype=dtype)
        return stage_1, stage_2, stage_3

    def edit(
        self,
        image,
        job: Edit,
        *,
        prompt_embeds=None,
        negative_prompt_embeds=None,
        stage_2_steps: int = 50,
        stage_2_guidance: float = 4.0,
        noise_level: int = 250,
        upscale_steps: int = 75,
        upscale_noise_level: int = 100,
        upscale_guidance: float = 9.0,
        output_type: str = "pil",
    ):
        """Stage I, then stage II, each with the map; returns stage II's image, or stage III's where there is one."""
        if prompt_embeds is None:
            if job.prompt is None:
                raise ValueError("prompt: give a prompt, or prompt_embeds and negative_prompt_embeds")
            prompt_embeds, negative_prompt_embeds = self.stage_1.encode_prompt(
                job.prompt, negative_prompt=job.negative_prompt, clean_caption=False
            )
        if self.stage_3 is not None and job.prompt is None:
            raise ValueError("prompt: the stage III upscaler needs the prompt as text")
        embeddings = dict(prompt_embeds=prompt_embeds, negative_prompt_embeds=negative_prompt_embeds)
        small = job.run(self.stage_1, pixels_per_latent=1, image=image, output_type="pt", **embeddings).images
        final_stage = self.stage_3 is None
        large = job.run(
            self.stage_2,
            pixels_per_latent=1,
            steps=stage_2_steps,
            guidance=stage_2_guidance,
            image=small,
            original_image=image,
            noise_level=int(noise_level),
            output_type=output_type if final_stage else "pt",
            **embeddings,
        ).images
        if final_stage:
            return large[0]
        return self.stage_3(
            prompt=job.prompt,
            negative_prompt=job.negative_prompt,
            image=(large / 2 + 0.5).clamp(0, 1),  # IF works in [-1, 1], the upscaler takes tensors in [0, 1]
            num_inference_steps=int(upscale_steps),
            noise_level=int(upscale_noise_level),
            guidance_scale=upscale_guidance,
            generator=seeded_generator(job.seed),
            output_type=output_type,
        ).images[0]
