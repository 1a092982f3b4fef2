"""Kandinsky 2.2: the prior turns the prompt into image embeddings, the decoder edits with the map."""

from __future__ import annotations

import torch

from ..injection import CONTINUOUS
from ..maps import MapOptions
from .base import check_strength, diffusers_class, read_image
from .core import DifferentialRun, load_pipeline, place, seeded_generator


class Kandinsky22:
    """Kandinsky 2.2 on diffusers' `KandinskyV22PriorPipeline` and `KandinskyV22Img2ImgPipeline`.

    The prior is only needed for prompts; callers with image embeddings of their own may leave it out.
    """

    family = "Kandinsky 2.2"
    default_model = "kandinsky-community/kandinsky-2-2-decoder"
    default_prior = "kandinsky-community/kandinsky-2-2-prior"
    default_guidance = 4.0

    def __init__(self, decoder, prior=None):
        self.decoder = decoder
        self.prior = prior

    @classmethod
    def load(
        cls,
        model: str | None = None,
        *,
        prior_model: str | None = None,
        device: str = "cuda",
        dtype=torch.float16,
        offload: bool = False,
        variant=None,
    ):
        """Load decoder and prior (hub ids or local folders) and place them on `device`."""
        prior = load_pipeline(
            diffusers_class("KandinskyV22PriorPipeline"),
            prior_model or cls.default_prior,
            f"{cls.family} prior",
            option="--prior-model",
            dtype=dtype,
            variant=variant,
        )
        decoder = load_pipeline(
            diffusers_class("KandinskyV22Img2ImgPipeline"),
            model or cls.default_model,
            f"{cls.family} decoder",
            dtype=dtype,
            variant=variant,
        )
        return cls(place(decoder, device, offload), place(prior, device, offload))

    def embed(self, prompt, negative_prompt=None, *, steps: int = 25, guidance: float = 4.0, seed: int = 0):
        """(image_embeds, negative_image_embeds) of a prompt, from the prior."""
        if self.prior is None:
            raise ValueError("prompt: this runner has no prior; load one or pass image_embeds and negative_image_embeds")
        output = self.prior(
            prompt=prompt,
            negative_prompt=negative_prompt,
            num_inference_steps=int(steps),
            guidance_scale=guidance,
            generator=seeded_generator(seed),
        )
        return output.image_embeds, output.negative_image_embeds

    def __call__(
        self,
        image,
        change_map,
        prompt=None,
        *,
        negative_prompt=None,
        image_embeds=None,
        negative_image_embeds=None,
        steps: int = 50,
        strength: float = 1.0,
        guidance: float = default_guidance,
        width: int | None = None,
        height: int | None = None,
        prior_steps: int = 25,
        prior_guidance: float = 4.0,
        seed: int = 0,
        map_options: MapOptions | None = None,
        future_hinting: bool = True,
        release_rule: str = CONTINUOUS,
        **pipeline_kwargs,
    ):
        """Edit `image` as `change_map` allows; the working size defaults to the image's, in multiples of 64."""
        image = read_image(image)
        if width is None or height is None:
            if not hasattr(image, "size") or callable(image.size):
                raise ValueError("width, height: give the working size for an image that is not a PIL image or a path")
            width = width or max(64, image.size[0] // 64 * 64)
            height = height or max(64, image.size[1] // 64 * 64)
        if image_embeds is None:
            if prompt is None:
                raise ValueError("prompt: give a prompt, or image_embeds and negative_image_embeds")
            image_embeds, negative_image_embeds = self.embed(prompt, negative_prompt, steps=prior_steps, guidance=prior_guidance, seed=seed)
        elif negative_image_embeds is None:
            raise ValueError("negative_image_embeds: required along with image_embeds")
        run = DifferentialRun(
            self.decoder,
            change_map,
            options=map_options,
            future_hinting=future_hinting,
            release_rule=release_rule,
            pixels_per_latent=self.decoder.image_processor.config.vae_scale_factor,
        )
        output = run(
            image=image,
            image_embeds=image_embeds,
            negative_image_embeds=negative_image_embeds,
            num_inference_steps=int(steps),
            strength=check_strength(strength),
            guidance_scale=guidance,
            # KandinskyV22Img2ImgPipeline hands its width and height to the image processor as height and width
            # (diffusers 0.42): swapped here, the image comes out width x height.
            width=int(height),
            height=int(width),
            generator=seeded_generator(seed),
            **pipeline_kwargs,
        )
        return output.images[0]
