"""The one parameter model: defaults agree, parsing is strict and names the field."""

from dataclasses import fields

import pytest
import torch

from lib_diffdiff import ReleaseSchedule
from lib_diffdiff.fan import FanOptions
from lib_diffdiff.injection import CONTINUOUS, STEPPED
from lib_diffdiff.maps import MapError
from lib_diffdiff.params import SETTINGS, Settings


def test_settings_and_their_descriptions_agree():
    assert [(f.name, f.default) for f in fields(Settings)] == [(s.name, s.default) for s in SETTINGS]
    assert len({s.infotext for s in SETTINGS if s.infotext}) == len([s for s in SETTINGS if s.infotext])


def test_settings_keep_their_positions_and_later_ones_come_last():
    """Positional API calls and saved UI values of older versions keep their meaning."""
    names = [s.name for s in SETTINGS]
    assert names[:9] == ["enabled", "source", "map", "convention", "invert", "blur", "contrast", "strength", "future_hinting"]
    assert names[9:] == ["fan_layout", "fan_count", "fan_from", "fan_to", "release", "composite", "fill"]
    assert Settings().fan_options() == FanOptions()


def test_release_rule_is_continuous_by_default_and_reaches_the_injector_and_infotext():
    original = torch.zeros(1, 4, 2, 2)
    schedule = ReleaseSchedule(torch.tensor([2.0, 1.0]))
    for values, rule in (({"enabled": True}, CONTINUOUS), ({"enabled": True, "release": "stepped"}, STEPPED)):
        settings = Settings.from_values(values)
        assert settings.injector(original, original, torch.ones(2, 2), schedule).release_rule == rule
        assert settings.infotext()["DiffDiff release"] == rule


def test_fan_settings_reach_infotext_only_for_the_fan():
    assert not any(key.startswith("DiffDiff fan") for key in Settings().infotext())
    fan = Settings(source="strength fan", fan_count=3.0).infotext()
    assert fan["DiffDiff fan parts"] == 3.0 and fan["DiffDiff fan layout"] == "sectors"


def test_named_and_positional_values_parse_to_the_same_settings():
    named = Settings.from_values({"enabled": True, "strength": 0.5, "future_hinting": "false"})
    positional = Settings.from_positional([True, "upload", None, "white keeps", False, 0, 1, 0.5, False])
    assert named == positional
    assert named.map_options().strength == 0.5


@pytest.mark.parametrize(
    "values, field",
    [
        ({"strenght": 1.0}, "strenght"),
        ({"strength": float("nan")}, "strength"),
        ({"strength": 3.0}, "strength"),
        ({"blur": "wide"}, "blur"),
        ({"enabled": "yes"}, "enabled"),
        ({"source": "webcam"}, "source"),
        ({"contrast": True}, "contrast"),
        ({"release": "smooth"}, "release"),
    ],
)
def test_bad_values_name_the_field(values, field):
    with pytest.raises(MapError) as error:
        Settings.from_values(values)
    assert error.value.field == field


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(MapError, match="valid ones are enabled, source, map"):
        Settings.from_values({"colour": 1})
