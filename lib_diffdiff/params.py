"""Every user-facing setting, described once.

The WebUI controls, the HTTP API's named arguments, the infotext keys and the XYZ-plot axes are all
built from `SETTINGS`; `Settings.from_values` is the one strict parser, and its errors name the field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .fan import FAN_COUNT_LIMITS, FAN_LAYOUTS, FanOptions
from .injection import CONTINUOUS, RELEASE_RULES, STEPPED, Injector
from .maps import CONVENTIONS, WHITE_KEEPS, MapError, MapOptions
from .presets import PRESETS, STRENGTH_FAN

UPLOAD = "upload"
INPAINT_MASK = "inpaint mask"
SOURCES = (UPLOAD, INPAINT_MASK, *PRESETS)
MAP_HASH_KEY = "DiffDiff map"  # infotext key of the map's hash (`maps.map_hash` of the map fitted to the picture)


@dataclass(frozen=True)
class Setting:
    """One setting: its API name, UI label, infotext key, type and limits."""

    name: str
    label: str
    kind: type  # bool, float, str, or object for an image
    default: Any
    tooltip: str
    infotext: str | None = None  # None: not written to infotext (the map itself: its hash is)
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    choices: tuple = ()
    sweepable: bool = False  # offered as an XYZ-plot axis
    only_for_source: str | None = None  # used (and written to infotext) only with this map source
    before: Any = None  # the value jobs had before this setting existed (None: its default), for pasted parameters without its key

    def parse(self, value: Any) -> Any:
        """Check one raw value (from the UI, JSON or infotext) and return it typed, or raise MapError."""
        if self.kind is object:
            return value
        if self.kind is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in ("true", "false"):
                return value.strip().lower() == "true"
            raise MapError(self.name, f"must be true or false, got {value!r}")
        if self.kind is float:
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                raise MapError(self.name, f"must be a number, got {type(value).__name__}")
            try:
                number = float(value)
            except ValueError:
                raise MapError(self.name, f"must be a number, got {value!r}") from None
            if not math.isfinite(number):
                raise MapError(self.name, f"must be a finite number, got {value!r}")
            if not self.minimum <= number <= self.maximum:
                raise MapError(self.name, f"must lie between {self.minimum:g} and {self.maximum:g}, got {number:g}")
            return number
        if not isinstance(value, str) or value not in self.choices:
            raise MapError(self.name, f"must be one of {list(self.choices)}, got {value!r}")
        return value


SETTINGS: tuple[Setting, ...] = (
    Setting("enabled", "Enable", bool, False, "Run Differential Diffusion on this job", "DiffDiff", sweepable=True),
    Setting("source", "Map source", str, UPLOAD, "Where the change map comes from", "DiffDiff source", choices=SOURCES, sweepable=True),
    Setting("map", "Change map", object, None, "Grayscale change map; see the convention below"),
    Setting(
        "convention",
        "Convention",
        str,
        WHITE_KEEPS,
        "White keeps (the paper) or white changes (like inpaint masks)",
        "DiffDiff convention",
        choices=CONVENTIONS,
        sweepable=True,
    ),
    Setting("invert", "Invert", bool, False, "Swap keep and change", "DiffDiff invert", sweepable=True),
    Setting(
        "blur",
        "Blur",
        float,
        0.0,
        "Soften the map's edges: Gaussian blur radius in pixels",
        "DiffDiff blur",
        0.0,
        64.0,
        0.5,
        sweepable=True,
    ),
    Setting(
        "contrast",
        "Contrast",
        float,
        1.0,
        "Push strengths away from (above 1) or towards (below 1) the middle",
        "DiffDiff contrast",
        0.0,
        4.0,
        0.05,
        sweepable=True,
    ),
    Setting(
        "strength",
        "Strength scale",
        float,
        1.0,
        "Multiply every pixel's change strength",
        "DiffDiff strength",
        0.0,
        2.0,
        0.05,
        sweepable=True,
    ),
    Setting(
        "future_hinting",
        "Future hinting",
        bool,
        True,
        "Inject later-released regions at every earlier step (the paper's default)",
        "DiffDiff hinting",
        sweepable=True,
    ),
    Setting(
        "fan_layout",
        "Fan layout",
        str,
        FanOptions.layout,
        "Strength fan: sectors fanning up from the middle of the bottom edge, or vertical strips",
        "DiffDiff fan layout",
        choices=FAN_LAYOUTS,
        only_for_source=STRENGTH_FAN,
    ),
    Setting(
        "fan_count",
        "Fan parts",
        float,
        float(FanOptions.count),
        "Strength fan: how many sectors or strips",
        "DiffDiff fan parts",
        *FAN_COUNT_LIMITS,
        1.0,
        sweepable=True,
        only_for_source=STRENGTH_FAN,
    ),
    Setting(
        "fan_from",
        "Fan from",
        float,
        FanOptions.start,
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
        FanOptions.end,
        "Strength fan: change strength of the rightmost part; the parts between are evenly spaced",
        "DiffDiff fan to",
        0.0,
        1.0,
        0.05,
        sweepable=True,
        only_for_source=STRENGTH_FAN,
    ),
    Setting(
        "release",
        "Release",
        str,
        CONTINUOUS,
        "Continuous: each pixel also gets its fraction of a step, so change grows smoothly with strength even at few steps; "
        "stepped: the paper's whole steps, floor(strength x steps)",
        "DiffDiff release",
        choices=RELEASE_RULES,
        sweepable=True,
        before=STEPPED,
    ),
)
BY_NAME = {setting.name: setting for setting in SETTINGS}


@dataclass(frozen=True)
class Settings:
    """A validated set of values, one attribute per entry of SETTINGS."""

    enabled: bool = False
    source: str = UPLOAD
    map: Any = None
    convention: str = WHITE_KEEPS
    invert: bool = False
    blur: float = 0.0
    contrast: float = 1.0
    strength: float = 1.0
    future_hinting: bool = True
    fan_layout: str = FanOptions.layout
    fan_count: float = float(FanOptions.count)
    fan_from: float = FanOptions.start
    fan_to: float = FanOptions.end
    release: str = CONTINUOUS

    @classmethod
    def from_values(cls, values: dict) -> Settings:
        """Parse named values strictly: unknown names and bad values raise MapError naming the field."""
        if not isinstance(values, dict):
            raise MapError("args", f"expected an object of settings by name, got {type(values).__name__}")
        unknown = sorted(set(values) - set(BY_NAME))
        if unknown:
            raise MapError(unknown[0], f"unknown setting; valid ones are {', '.join(BY_NAME)}")
        settings = cls(**{name: BY_NAME[name].parse(value) for name, value in values.items()})
        settings.fan_options()  # the fan's own checks (a whole number of parts)
        return settings

    @classmethod
    def from_positional(cls, values) -> Settings:
        """Values in UI order (the WebUI passes script arguments this way)."""
        values = list(values)
        if len(values) > len(SETTINGS):
            raise MapError("args", f"expected at most {len(SETTINGS)} values ({', '.join(BY_NAME)}), got {len(values)}")
        return cls.from_values({setting.name: value for setting, value in zip(SETTINGS, values)})

    def injector(self, original, noise, change, schedule, space=None) -> Injector | None:
        """The job's Injector, or None when disabled: a disabled job must run exactly as plain img2img."""
        if not self.enabled:
            return None
        return Injector(original, noise, change, schedule, future_hinting=self.future_hinting, space=space, release_rule=self.release)

    def map_options(self) -> MapOptions:
        return MapOptions(self.convention, self.invert, self.blur, self.contrast, self.strength)

    def fan_options(self) -> FanOptions:
        return FanOptions(self.fan_layout, self.fan_count, self.fan_from, self.fan_to)

    def infotext(self) -> dict:
        """Generation-parameter entries for an enabled job (the map's hash is added by the caller)."""
        return {s.infotext: getattr(self, s.name) for s in SETTINGS if s.infotext and s.only_for_source in (None, self.source)}
