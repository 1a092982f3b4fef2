"""`Setting`: one user-facing setting described once (name, label, tooltip, infotext key, type,
default, bounds), with the one validator every layer uses.

Each setting is described by the module that owns it (the map options in `maps`, the fan's in `fan`,
the job's in `params`); `params.SETTINGS` lists them all, and the WebUI controls, the HTTP API, the
infotext, the XYZ axes, the runner CLI's flags and the JavaScript preview's defaults are built from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .errors import SettingsError


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
    only_for_source: str | None = None  # used (shown in the UI, written to infotext) only with this map source
    before: Any = None  # the value jobs had before this setting existed (None: its default), for pasted parameters without its key
    cli_flag: str | None = None  # the runner CLI's flag for it; None: not a runner setting
    cli_switch_to: Any = None  # for a choice: the flag is a switch to this value (it takes none)

    def parse(self, value: Any) -> Any:
        """Check one raw value (from the UI, JSON, infotext or a command line) and return it typed, or raise SettingsError."""
        if self.kind is bool and isinstance(value, str) and value.strip().lower() in ("true", "false"):
            value = value.strip().lower() == "true"
        elif self.kind is float and isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise SettingsError(self.name, f"must be a number, got {value!r}") from None
        return self.check(value)

    def check(self, value: Any) -> Any:
        """Check a typed value (as Python code passes it: no strings for numbers) and return it, or raise SettingsError."""
        if self.kind is object:
            return value
        if self.kind is bool:
            if isinstance(value, bool):
                return value
            raise SettingsError(self.name, f"must be true or false, got {value!r}")
        if self.kind is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise SettingsError(self.name, f"must be a number, got {type(value).__name__}")
            number = float(value)
            if not math.isfinite(number):
                raise SettingsError(self.name, f"must be a finite number, got {value!r}")
            if not self.minimum <= number <= self.maximum:
                raise SettingsError(self.name, f"must lie between {self.minimum:g} and {self.maximum:g}, got {number:g}")
            return number
        if not isinstance(value, str) or value not in self.choices:
            raise SettingsError(self.name, f"must be one of {list(self.choices)}, got {value!r}")
        return value
