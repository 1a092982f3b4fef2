"""What every runner shares: loading with clear errors, input images, seeds and the Differential Diffusion call.

A family is a `Runner` subclass that names its pipelines in `load_parts` and says in `edit` how its
pipelines are called; the common arguments (steps, strength, guidance, seed, map options, future
hinting) are read and checked once here and reach `edit` as an `Edit`.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch
from PIL import Image

from ..composite import composite_by_map
from ..errors import SettingsError
from ..fill import NONE
from ..images import open_image
from ..injection import CONTINUOUS
from ..maps import MapOptions
from ..params import BY_NAME
from .core import DifferentialRun, load_pipeline, place, seeded_generator


def diffusers_class(name: str):
    """A pipeline class by name, imported only when a runner needs it (the engine never needs diffusers)."""
    import diffusers

    return getattr(diffusers, name)


def read_image(image):
    """A path (opened by the one decoder, `images.open_image`) or PIL image as RGB PIL; tensors and
    arrays go to the pipeline unchanged."""
    if isinstance(image, (str, os.PathLike)):
        image = open_image(image, "image")
    if isinstance(image, Image.Image):
        return image.convert("RGB")
    return image


def check_strength(strength: float) -> float:
    if not 0.0 < float(strength) <= 1.0:
        raise ValueError(f"strength: must lie in (0, 1], got {strength!r}")
    return float(strength)


@dataclass(frozen=True)
class Edit:
    """The arguments every family's call shares, checked; `run` calls one pipeline with the map."""

    prompt: object
    negative_prompt: object
    change_map: object
    map_options: MapOptions | None
    future_hinting: bool
    release_rule: str
    fill: str
    steps: int
    strength: float
    guidance: float
    seed: int

    def run(self, pipe, *, pixels_per_latent: int, steps: int | None = None, guidance: float | None = None, **call_kwargs):
        """`pipe(**call_kwargs)` with Differential Diffusion, a fresh seeded generator and the shared
        steps, strength and guidance (a later stage may have steps and guidance of its own)."""
        run = DifferentialRun(
            pipe,
            self.change_map,
            options=self.map_options,
            future_hinting=self.future_hinting,
            release_rule=self.release_rule,
            pixels_per_latent=pixels_per_latent,
            fill=self.fill,
            fill_seed=self.seed,
        )
        return run(
            num_inference_steps=int(self.steps if steps is None else steps),
            strength=self.strength,
            guidance_scale=self.guidance if guidance is None else guidance,
            generator=seeded_generator(self.seed),
            **call_kwargs,
        )


class Runner(ABC):
    """A model family: its pipelines, loaded with clear errors, and how one edit calls them."""

    family = ""
    default_model = ""
    default_guidance = 7.5

    @classmethod
    def load(cls, model: str | None = None, *, device: str = "cuda", dtype=torch.float16, offload: bool = False, variant=None, **parts):
        """Load the weights (hub ids or local folders) and place the pipelines on `device`; `parts`
        names a family's further weights (e.g. `prior_model=`)."""
        pipes = cls.load_parts(model or cls.default_model, dtype=dtype, variant=variant, **parts)
        return cls(*(None if pipe is None else place(pipe, device, offload) for pipe in pipes))

    @classmethod
    @abstractmethod
    def load_parts(cls, model: str, *, dtype, variant) -> tuple:
        """The pipelines, in the order the constructor takes them."""

    @classmethod
    def load_part(cls, pipeline_name: str, model: str, part: str = "", option: str = "--model", **kwargs):
        """One diffusers pipeline of this family; `part` and `option` name it in the error when weights are missing."""
        return load_pipeline(diffusers_class(pipeline_name), model, f"{cls.family} {part}".strip(), option, **kwargs)

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
        composite: bool = True,
        fill: str = NONE,
        **family_options,
    ):
        """Edit `image` (a path, PIL image or the pipeline's own input) as `change_map` allows; returns
        the edited image. `guidance` defaults to the family's; `family_options` are those `edit` takes.
        With `composite` a picture result is laid under the input picture by the map (`composite.py`), so
        pixels the map keeps are the input's exactly; latent and array outputs are left as they are."""
        job = Edit(
            prompt=prompt,
            negative_prompt=negative_prompt,
            change_map=change_map,
            map_options=map_options,
            future_hinting=future_hinting,
            release_rule=release_rule,
            fill=BY_NAME["fill"].check(fill),  # before any pipeline runs
            steps=int(steps),
            strength=check_strength(strength),
            guidance=self.default_guidance if guidance is None else guidance,
            seed=int(seed),
        )
        picture = read_image(image)
        result = self.edit(picture, job, **family_options)
        if not composite or not isinstance(result, Image.Image):  # latents and arrays are returned as the pipeline made them
            return result
        if not isinstance(picture, Image.Image):
            raise SettingsError("composite", "the composite needs the input as a path or PIL image; pass composite=False for tensors")
        original = picture if picture.size == result.size else self.fitted_input(picture, result.size)
        return composite_by_map(result, original, change_map, job.map_options or MapOptions())

    def fitted_input(self, picture: Image.Image, size: tuple[int, int]) -> Image.Image:
        """The input picture at the result's size as the family's pipeline resizes it (diffusers' image processor: Lanczos)."""
        return picture.resize(size, Image.LANCZOS)

    @abstractmethod
    def edit(self, image, job: Edit, **family_options):
        """The family's pipeline calls for one edit."""


class SinglePipelineRunner(Runner):
    """A runner around one diffusers img2img pipeline that takes `image` and `prompt`."""

    pipeline_name = ""  # the diffusers class

    def __init__(self, pipe):
        self.pipe = pipe

    @property
    def pixels_per_latent(self) -> int:
        """Image pixels per latent pixel along a side, to fit the map to the working image."""
        return self.pipe.image_processor.config.vae_scale_factor

    @classmethod
    def load_parts(cls, model: str, *, dtype, variant) -> tuple:
        return (cls.load_part(cls.pipeline_name, model, dtype=dtype, variant=variant),)

    def edit(self, image, job: Edit, **pipeline_kwargs):
        """One call of the pipeline; `pipeline_kwargs` go to it unchanged."""
        output = job.run(
            self.pipe,
            pixels_per_latent=self.pixels_per_latent,
            image=image,
            prompt=job.prompt,
            negative_prompt=job.negative_prompt,
            **{**self.working_size(image), **pipeline_kwargs},
        )
        return output.images[0]

    def working_size(self, image) -> dict:
        """Pipeline arguments for the working size, where a pipeline would not work at the image's own."""
        return {}
