"""What every runner shares: loading with clear errors, input images, seeds and the Differential Diffusion call."""

from __future__ import annotations

import os

import torch
from PIL import Image

from ..injection import CONTINUOUS
from ..maps import MapOptions
from .core import DifferentialRun, load_pipeline, place, seeded_generator


def diffusers_class(name: str):
    """A pipeline class by name, imported only when a runner needs it (the engine never needs diffusers)."""
    import diffusers

    return getattr(diffusers, name)


def read_image(image):
    """A path or PIL image as RGB PIL; tensors and arrays go to the pipeline unchanged."""
    if isinstance(image, (str, os.PathLike)):
        try:
            with Image.open(image) as opened:
                return opened.convert("RGB")
        except OSError as error:
            raise ValueError(f"image: cannot read {os.fspath(image)!r}: {error}") from None
    if isinstance(image, Image.Image):
        return image.convert("RGB")
    return image


def check_strength(strength: float) -> float:
    if not 0.0 < float(strength) <= 1.0:
        raise ValueError(f"strength: must lie in (0, 1], got {strength!r}")
    return float(strength)


class SinglePipelineRunner:
    """A runner around one diffusers img2img pipeline that takes `image` and `prompt`."""

    family = ""
    pipeline_name = ""  # the diffusers class
    default_model = ""
    default_guidance = 7.5

    def __init__(self, pipe):
        self.pipe = pipe

    @property
    def pixels_per_latent(self) -> int:
        """Image pixels per latent pixel along a side, to fit the map to the working image."""
        return self.pipe.image_processor.config.vae_scale_factor

    @classmethod
    def load(cls, model: str | None = None, *, device: str = "cuda", dtype=torch.float16, offload: bool = False, variant=None):
        """Load the weights (hub id or local folder) and place the pipeline on `device`."""
        pipe = load_pipeline(diffusers_class(cls.pipeline_name), model or cls.default_model, cls.family, dtype=dtype, variant=variant)
        return cls(place(pipe, device, offload))

    def __call__(
        self,
        image,
        change_map,
        prompt=None,
        *,
        negative_prompt=None,
        steps: int = 50,
        strength: float = 1.0,
        guidance: float | None = None,
        seed: int = 0,
        map_options: MapOptions | None = None,
        future_hinting: bool = True,
        release_rule: str = CONTINUOUS,
        **pipeline_kwargs,
    ):
        """Edit `image` as `change_map` allows; returns the first image of the pipeline's output."""
        run = DifferentialRun(
            self.pipe,
            change_map,
            options=map_options,
            future_hinting=future_hinting,
            release_rule=release_rule,
            pixels_per_latent=self.pixels_per_latent,
        )
        image = read_image(image)
        output = run(
            image=image,
            prompt=prompt,
            negative_prompt=negative_prompt,
            num_inference_steps=int(steps),
            strength=check_strength(strength),
            guidance_scale=self.default_guidance if guidance is None else guidance,
            generator=seeded_generator(seed),
            **{**self.working_size(image), **pipeline_kwargs},
        )
        return output.images[0]

    def working_size(self, image) -> dict:
        """Pipeline arguments for the working size, where a pipeline would not work at the image's own."""
        return {}
