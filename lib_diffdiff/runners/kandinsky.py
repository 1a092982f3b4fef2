"""Kandinsky 2.2: the prior turns the prompt into image embeddings, the decoder edits with the map."""

from __future__ import annotations

from .base import Edit, Runner
from .core import seeded_generator


class Kandinsky22(Runner):
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
    def load_parts(cls, model: str, *, dtype, variant, prior_model: str | None = None):
        """The decoder and the prior (loaded first: without it no prompt works)."""
        prior_model = prior_model or cls.default_prior
        prior = cls.load_part("KandinskyV22PriorPipeline", prior_model, "prior", "--prior-model", dtype=dtype, variant=variant)
        decoder = cls.load_part("KandinskyV22Img2ImgPipeline", model, "decoder", dtype=dtype, variant=variant)
        return decoder, prior

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

    def edit(
        self,
        image,
        job: Edit,
        *,
        image_embeds=None,
        negative_image_embeds=None,
        width: int | None = None,
        height: int | None = None,
        prior_steps: int = 25,
        prior_guidance: float = 4.0,
        **pipeline_kwargs,
    ):
        """The prior (unless given embeddings), then the decoder with the map; the working size defaults
        to the image's, in multiples of 64."""
        if width is None or height is None:
            if not hasattr(image, "size") or callable(image.size):
                raise ValueError("width, height: give the working size for an image that is not a PIL image or a path")
            width = width or max(64, image.size[0] // 64 * 64)
            height = height or max(64, image.size[1] // 64 * 64)
        if image_embeds is None:
            if job.prompt is None:
                raise ValueError("prompt: give a prompt, or image_embeds and negative_image_embeds")
            prior = dict(steps=prior_steps, guidance=prior_guidance, seed=job.seed)
            image_embeds, negative_image_embeds = self.embed(job.prompt, job.negative_prompt, **prior)
        elif negative_image_embeds is None:
            raise ValueError("negative_image_embeds: required along with image_embeds")
        output = job.run(
            self.decoder,
            pixels_per_latent=self.decoder.image_processor.config.vae_scale_factor,
            image=image,
            image_embeds=image_embeds,
            negative_image_embeds=negative_image_embeds,
            # KandinskyV22Img2ImgPipeline hands its width and height to the image processor as height and width
            # (diffusers 0.42): swapped here, the image comes out width x height.
            width=int(height),
            height=int(width),
            **pipeline_kwargs,
        )
        return output.images[0]
