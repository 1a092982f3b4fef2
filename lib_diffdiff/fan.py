"""The strength fan: one run that shows a range of change strengths side by side.

The picture is split into N sectors fanning up from the middle of its bottom edge (or N vertical
strips), left to right, with change strengths evenly spaced from `start` to `end`. The fan is drawn
as gray levels in the job's convention, so that with no other option sector k changes by exactly
its strength; `annotate_fan` labels each sector of an output with the change strength it really
got after every map option (invert, blur, contrast, strength scale).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from PIL import Image

from .errors import SettingsError
from .maps import WHITE_KEEPS, to_change
from .setting import Setting
from .text import paste_text

FAN_LAYOUTS = ("sectors", "strips")
STRENGTH_FAN = "strength fan"  # the map source that draws the fan

FAN_SETTINGS: tuple[Setting, ...] = (
    Setting(
        "fan_layout",
        "Fan layout",
        str,
        "sectors",
        "Strength fan: sectors fanning up from the middle of the bottom edge, or vertical strips",
        "DiffDiff fan layout",
        choices=FAN_LAYOUTS,
        only_for_source=STRENGTH_FAN,
    ),
    Setting(
        "fan_count",
        "Fan parts",
        float,
        6.0,
        "Strength fan: how many sectors or strips",
        "DiffDiff fan parts",
        2.0,
        16.0,
        1.0,
        sweepable=True,
        only_for_source=STRENGTH_FAN,
    ),
    Setting(
        "fan_from",
        "Fan from",
        float,
        0.0,
        "Strength fan: change strength of the leftmost part (0 keeps, 1 changes fully)",
        "DiffDiff fan from",
        0.0,
        1.0,
        0.05,
        sweepable=True,
        only_for_source=STRENGTH_FAN,
    ),
    Setting(
        "fan_to",
        "Fan to",
        float,
        1.0,
        "Strength fan: change strength of the rightmost part; the parts between are evenly spaced",
        "DiffDiff fan to",
        0.0,
        1.0,
        0.05,
        sweepable=True,
        only_for_source=STRENGTH_FAN,
    ),
)
LAYOUT, COUNT, START, END = FAN_SETTINGS


@dataclass(frozen=True)
class FanOptions:
    """How the fan is laid out: `count` parts with change strengths from `start` to `end` (the settings
    `fan_layout`, `fan_count`, `fan_from` and `fan_to` of `FAN_SETTINGS`, whose defaults and bounds hold)."""

    layout: str = LAYOUT.default
    count: int = int(COUNT.default)
    start: float = START.default
    end: float = END.default

    def __post_init__(self):
        LAYOUT.check(self.layout)
        count = COUNT.check(self.count)
        if count != int(count):
            raise SettingsError(COUNT.name, f"must be a whole number, got {self.count!r}")
        object.__setattr__(self, "count", int(count))
        START.check(self.start)
        END.check(self.end)

    def strengths(self) -> list[float]:
        """The change strength of each part, left to right."""
        return [self.start + (self.end - self.start) * k / (self.count - 1) for k in range(self.count)]


def fan_parts(width: int, height: int, options: FanOptions = FanOptions()) -> torch.Tensor:
    """The index (0 at the left) of the part each pixel belongs to, shape (height, width)."""
    if width < 1 or height < 1:
        raise SettingsError("size", f"the image size must be positive, got {width}x{height}")
    cols = torch.arange(width, dtype=torch.float64) + 0.5
    if options.layout == "strips":
        index = (cols * options.count / width).floor().expand(height, width)
    else:
        rows = torch.arange(height, dtype=torch.float64)[:, None] + 0.5
        angle = torch.atan2(height - rows, cols - width / 2)  # pi at the left, 0 at the right
        index = ((math.pi - angle) / math.pi * options.count).floor()
    return index.clamp(0, options.count - 1).to(torch.int64)


def strength_fan(width: int, height: int, options: FanOptions = FanOptions(), convention: str = WHITE_KEEPS) -> torch.Tensor:
    """The fan as gray levels in [0, 1], shape (height, width), read in `convention`."""
    change = torch.tensor(options.strengths(), dtype=torch.float32)[fan_parts(width, height, options)]
    return 1.0 - change if convention == WHITE_KEEPS else change


def fan_labels(width: int, height: int, settings) -> list[tuple[tuple[float, float], str]]:
    """Where each part's label goes (its centroid) and its text: the median change strength of the
    part after all of the map options of `settings` (a `params.Settings`)."""
    fan, options = settings.fan_options(), settings.map_options()
    parts = fan_parts(width, height, fan)
    change = to_change(strength_fan(width, height, fan, options.convention), options)
    rows, cols = torch.meshgrid(torch.arange(height, dtype=torch.float32), torch.arange(width, dtype=torch.float32), indexing="ij")
    labels = []
    for part in range(fan.count):
        inside = parts == part
        if inside.any():
            centre = (float(cols[inside].mean()), float(rows[inside].mean()))
            labels.append((centre, f"{float(change[inside].median()):.2f}"))
    return labels


def annotate_fan(output: Image.Image, settings) -> Image.Image:
    """A copy of a strength-fan job's `output` with the parts' borders drawn and each part labelled
    with its change strength; `settings` is the job's `params.Settings`, the fan is laid over the
    output's own size."""
    width, height = output.size
    parts = fan_parts(width, height, settings.fan_options())
    edge = torch.zeros(height, width, dtype=torch.bool)
    edge[:, 1:] |= parts[:, 1:] != parts[:, :-1]
    edge[1:, :] |= parts[1:, :] != parts[:-1, :]
    annotated = output.convert("RGB")
    annotated.paste((255, 255, 255), mask=Image.fromarray(edge.numpy().astype("uint8") * 255, mode="L"))
    scale = max(1, min(width, height) // 160)
    for centre, text in fan_labels(width, height, settings):
        paste_text(annotated, text, centre, anchor="mm", scale=scale, fill=(255, 255, 255), background=(0, 0, 0), padding=2)
    return annotated
