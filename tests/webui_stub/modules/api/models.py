"""Stand-in for modules/api/models.py: the img2img request and answer, and /sdapi/v1/script-info's models."""

from typing import Any, Optional

from pydantic import BaseModel, Field


class ScriptArg(BaseModel):
    label: str = Field(default=None, title="Label")
    value: Optional[Any] = Field(default=None, title="Value")  # noqa: UP045  (pydantic 1 on Python 3.10)
    minimum: Optional[Any] = Field(default=None, title="Minimum")  # noqa: UP045
    maximum: Optional[Any] = Field(default=None, title="Maximum")  # noqa: UP045
    step: Optional[Any] = Field(default=None, title="Step")  # noqa: UP045
    choices: Optional[list[str]] = Field(default=None, title="Choices")  # noqa: UP045


class ScriptInfo(BaseModel):
    name: str = Field(default=None, title="Name")
    is_alwayson: bool = Field(default=None, title="IsAlwayson")
    is_img2img: bool = Field(default=None, title="IsImg2img")
    args: list[ScriptArg] = Field(title="Arguments")


class StableDiffusionImg2ImgProcessingAPI(BaseModel):
    """The request fields of POST /sdapi/v1/img2img that the stand-in's processing takes."""

    init_images: Optional[list[str]] = None  # noqa: UP045
    mask: Optional[str] = None  # noqa: UP045
    prompt: str = ""
    negative_prompt: str = ""
    seed: int = 1
    steps: int = 8
    cfg_scale: float = 7.0
    width: int = 64
    height: int = 64
    denoising_strength: float = 0.75
    sampler_name: str = "Euler"
    scheduler: Optional[str] = None  # noqa: UP045
    batch_size: int = 1
    n_iter: int = 1
    resize_mode: int = 0
    mask_blur_x: int = 4
    mask_blur_y: int = 4
    mask_blur: Optional[int] = None  # noqa: UP045  (sets both axes)
    inpainting_fill: int = 0  # "fill": the API takes the job's own default; the UI starts on "original" (1)
    inpaint_full_res: bool = True
    inpaint_full_res_padding: int = 0
    inpainting_mask_invert: int = 0
    refiner_checkpoint: Optional[str] = None  # noqa: UP045
    refiner_switch_at: Optional[float] = None  # noqa: UP045
    alwayson_scripts: dict[str, Any] = Field(default={}, title="Alwayson Scripts")


class ImageToImageResponse(BaseModel):
    images: Optional[list[str]] = None  # noqa: UP045
    parameters: dict
    info: str
