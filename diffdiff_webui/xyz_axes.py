"""XYZ-plot axes for the sweepable settings, described without the WebUI.

Each `Axis` has what the WebUI's `xyz_grid.AxisOption(label, type, apply, format_value=...,
confirm=..., choices=...)` takes; `register_axes(xyz_grid)` appends them to the loaded XYZ module.

A swept value is recorded on the job (`p`) as an override, and the script reads it back with
`apply_overrides(settings, p)` in `process()`. The XYZ plot runs every cell on a shallow copy of
the job, so overrides are stored copy-on-write and never leak from one cell into another.

With the accordion off: sweeping any of our axes turns Differential Diffusion on for that cell
(someone sweeping "strength scale" wants to see it act), using the accordion's other values. The
"Enable" axis is the exception: its value decides, so a grid can put off and on side by side.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lib_diffdiff.params import SETTINGS, Setting, Settings

from .api_args import DEFAULT_MAX_PIXELS, parse_script_args

OVERRIDES_ATTR = "diffdiff_xyz_overrides"  # the dict of swept values on a job: setting name -> value
LABEL_PREFIX = "[DiffDiff] "
BOOLEAN_CHOICES = ("True", "False")  # what the XYZ plot offers for its own boolean axes


@dataclass(frozen=True)
class Axis:
    """One XYZ axis over one setting; its methods have the signatures the XYZ plot calls."""

    setting: Setting

    @property
    def label(self) -> str:
        """Shown in the axis dropdown, prefixed so it does not mix with the WebUI's own "Blur" and "Contrast"."""
        return LABEL_PREFIX + self.setting.label

    @property
    def type(self) -> type:
        """How the XYZ plot converts each typed value: float for numbers (so ranges like 0-1 (5) work), else str."""
        return float if self.setting.kind is float else str

    @property
    def choices(self) -> Callable[[], list[str]] | None:
        """The dropdown's values (the XYZ plot wants a callable), or None for a free-form number axis."""
        if self.setting.kind is bool:
            return lambda: list(BOOLEAN_CHOICES)
        if self.setting.choices:
            return lambda: list(self.setting.choices)
        return None

    def apply(self, p, value, xs) -> None:
        """Record the value for this cell's job; a bad value raises SettingsError naming the setting."""
        swept = getattr(p, OVERRIDES_ATTR, None) or {}
        setattr(p, OVERRIDES_ATTR, {**swept, self.setting.name: self.setting.parse(value)})

    def confirm(self, p, values) -> None:
        """Check every value before the grid starts, so a typo fails at once and not after some cells."""
        for value in values:
            self.setting.parse(value)

    def format_value(self, p, opt, value) -> str:
        """The legend: "DiffDiff strength scale: 0.5", "DiffDiff future hinting: off"."""
        value = self.setting.parse(value)
        if isinstance(value, bool):
            shown = "on" if value else "off"
        elif isinstance(value, float):
            shown = f"{value:g}"
        else:
            shown = value
        return f"DiffDiff {self.setting.label.lower()}: {shown}"


AXES: tuple[Axis, ...] = tuple(Axis(setting) for setting in SETTINGS if setting.sweepable)


def register_axes(xyz_grid, option=None) -> int:
    """Append our axes to a loaded `scripts/xyz_grid.py` module; returns how many were added.

    Img2img-only axes (the method needs an init image): `option` is the plot's img2img axis class, by
    default the module's own where it has one. Axes already present (a script reload) are not added
    twice.
    """
    option = option or getattr(xyz_grid, "AxisOptionImg2Img", None) or xyz_grid.AxisOption
    present = {existing.label for existing in xyz_grid.axis_options}
    added = 0
    for axis in AXES:
        if axis.label in present:
            continue
        xyz_grid.axis_options.append(
            option(axis.label, axis.type, axis.apply, format_value=axis.format_value, confirm=axis.confirm, choices=axis.choices)
        )
        added += 1
    return added


def swept_values(p) -> dict:
    """The values the XYZ plot set on this job, by setting name (empty outside an XYZ plot)."""
    return dict(getattr(p, OVERRIDES_ATTR, None) or {})


def apply_overrides(settings: Settings, p, max_pixels: int = DEFAULT_MAX_PIXELS) -> Settings:
    """The job's settings with its swept values applied, validated by the same parser as the API.

    Any swept value turns the job on unless "enabled" itself is swept. A map left undecoded because
    the accordion was off is decoded now, and a missing one is reported (SettingsError naming "map").
    """
    swept = swept_values(p)
    if not swept:
        return settings
    values = {setting.name: getattr(settings, setting.name) for setting in SETTINGS}
    return parse_script_args({**values, "enabled": True, **swept}, max_pixels)
