"""Every user-facing setting, listed once: `SETTINGS` (the map's and the fan's options are described
by `maps` and `fan`, which validate them with the same `Setting`s).

The WebUI controls, the HTTP API's named arguments, the infotext keys, the XYZ-plot axes, the runner
CLI's flags and the preview's defaults are all built from `SETTINGS`, and so is `Settings`;
`Settings.from_values` is the one strict parser, and its errors name the field.
"""

from __future__ import annotations

from dataclasses import field, make_dataclass
from typing import Any

from .errors import SettingsError
from .fan import FAN_SETTINGS, STRENGTH_FAN, FanOptions
from .fill import FILLS, NONE, filled_original
from .injection import CONTINUOUS, RELEASE_RULES, STEPPED, Injector
from .maps import MAP_SETTINGS, MapOptions
from .presets import PRESETS
from .setting import Setting

UPLOAD = "upload"
INPAINT_MASK = "inpaint mask"
SOURCES = (UPLOAD, INPAINT_MASK, *PRESETS)
MAP_HASH_KEY = "DiffDiff map"  # infotext key of the map's hash (`maps.map_hash` of the map fitted to the picture)


SETTINGS: tuple[Setting, ...] = (
    Setting("enabled", "Enable", bool, False, "Run Differential Diffusion on this job", "DiffDiff", sweepable=True),
    Setting("source", "Map source", str, UPLOAD, "Where the change map comes from", "DiffDiff source", choices=SOURCES, sweepable=True),
    Setting("map", "Change map", object, None, "Grayscale change map; see the convention below", only_for_source=UPLOAD),
    *MAP_SETTINGS,
    Setting(
        "future_hinting",
        "Future hinting",
        bool,
        True,
        "Inject later-released regions at every earlier step (the paper's default)",
        "DiffDiff hinting",
        sweepable=True,
        cli_flag="--no-future-hinting",
    ),
    *FAN_SETTINGS,
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
        cli_flag="--stepped-release",
        cli_switch_to=STEPPED,
    ),
    Setting(
        "composite",
        "Composite kept pixels",
        bool,
        True,
        "After decoding, lay the original picture over the result by the map, so pixels the map keeps are the original "
        "exactly in the saved picture (not the VAE's round trip of it)",
        "DiffDiff composite",
        sweepable=True,
        before=False,
        cli_flag="--no-composite",
    ),
    Setting(
        "fill",
        "Fill",
        str,
        NONE,
        "Where the map changes, start from more than the original: noise (the model invents detail) or blur fill "
        "(the colours of the kept surroundings), weighted by strength squared; none: the original",
        "DiffDiff fill",
        choices=FILLS,
        sweepable=True,
        cli_flag="--fill",
    ),
)
BY_NAME = {setting.name: setting for setting in SETTINGS}


class _SettingsMethods:
    """A validated set of values, one attribute per entry of SETTINGS (the `Settings` class below is
    made from SETTINGS, so a setting is declared nowhere else)."""

    @classmethod
    def from_values(cls, values: dict) -> _SettingsMethods:
        """Parse named values strictly: unknown names and bad values raise SettingsError naming the field."""
        if not isinstance(values, dict):
            raise SettingsError("args", f"expected an object of settings by name, got {type(values).__name__}")
        unknown = sorted(set(values) - set(BY_NAME))
        if unknown:
            raise SettingsError(unknown[0], f"unknown setting; valid ones are {', '.join(BY_NAME)}")
        settings = cls(**{name: BY_NAME[name].parse(value) for name, value in values.items()})
        settings.fan_options()  # the fan's own checks (a whole number of parts)
        return settings

    @classmethod
    def from_positional(cls, values) -> _SettingsMethods:
        """Values in UI order (the WebUI passes script arguments this way)."""
        values = list(values)
        if len(values) > len(SETTINGS):
            raise SettingsError("args", f"expected at most {len(SETTINGS)} values ({', '.join(BY_NAME)}), got {len(values)}")
        return cls.from_values({setting.name: value for setting, value in zip(SETTINGS, values)})

    def injector(self, original, noise, change, schedule, space=None, seeds=(0,)) -> Injector | None:
        """The job's Injector, or None when disabled: a disabled job must run exactly as plain img2img.
        Held and released pixels are injected with the original as the fill leaves it (`seeds`: one per sample, for noise)."""
        if not self.enabled:
            return None
        filled = filled_original(original, change, self.fill, list(seeds))
        return Injector(
            filled, noise, change, schedule, future_hinting=self.future_hinting, space=space, release_rule=self.release,
            start_from_original=filled is not original,
        )

    def map_options(self) -> MapOptions:
        return MapOptions(**{setting.name: getattr(self, setting.name) for setting in MAP_SETTINGS})

    def fan_options(self) -> FanOptions:
        return FanOptions(*(getattr(self, setting.name) for setting in FAN_SETTINGS))

    def infotext(self) -> dict:
        """Generation-parameter entries for an enabled job (the map's hash is added by the caller)."""
        return {s.infotext: getattr(self, s.name) for s in SETTINGS if s.infotext and s.only_for_source in (None, self.source)}


def settings_class(settings: tuple[Setting, ...]) -> type:
    """The frozen dataclass of `settings`' values, each defaulting to its setting's default."""
    fields = [(setting.name, setting.kind if setting.kind is not object else Any, field(default=setting.default)) for setting in settings]
    settings_type = make_dataclass("Settings", fields, bases=(_SettingsMethods,), frozen=True)
    settings_type.__module__ = __name__
    return settings_type


Settings = settings_class(SETTINGS)
