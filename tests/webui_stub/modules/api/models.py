"""modules/api/models.py: the script description models of /sdapi/v1/script-info."""

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
