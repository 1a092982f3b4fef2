"""Built-in maps, drawn as gray levels like an uploaded map (so convention and invert apply to them too)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .errors import SettingsError
from .fan import STRENGTH_FAN, strength_fan


def gradient_left_to_right(width: int, height: int) -> torch.Tensor:
    """Black at the left edge to white at the right edge."""
    return torch.linspace(0.0, 1.0, width).expand(height, width).clone()


def gradient_top_to_bottom(width: int, height: int) -> torch.Tensor:
    """Black at the top edge to white at the bottom edge."""
    return torch.linspace(0.0, 1.0, height)[:, None].expand(height, width).clone()


def radial(width: int, height: int) -> torch.Tensor:
    """Black at the centre to white at the corners."""
    rows = torch.linspace(-1.0, 1.0, height)[:, None]
    cols = torch.linspace(-1.0, 1.0, width)[None, :]
    return ((rows**2 + cols**2).sqrt() / 2**0.5).clamp(0.0, 1.0)


PRESETS: dict[str, Callable[[int, int], torch.Tensor]] = {
    "gradient left to right": gradient_left_to_right,
    "gradient top to bottom": gradient_top_to_bottom,
    "radial": radial,
    STRENGTH_FAN: strength_fan,  # called with only a size it draws the default fan
}


def preset_map(name: str, width: int, height: int, settings=None) -> torch.Tensor:
    """A preset as gray levels in [0, 1], shape (height, width).

    `settings` (a `params.Settings`) shapes the strength fan and gives the convention it is drawn in.
    """
    if name not in PRESETS:
        raise SettingsError("source", f"unknown preset {name!r}; presets are {', '.join(PRESETS)}")
    if name == STRENGTH_FAN and settings is not None:
        return strength_fan(width, height, settings.fan_options(), settings.convention)
    return PRESETS[name](width, height)
