"""The strength fan: its parts, their strengths under every map option, and the labelled output."""

import numpy as np
import pytest
import torch
from PIL import Image

from lib_diffdiff.fan import FanOptions, annotate_fan, fan_labels, fan_parts, strength_fan
from lib_diffdiff.maps import WHITE_CHANGES, MapError, to_change
from lib_diffdiff.params import SOURCES, Settings
from lib_diffdiff.presets import STRENGTH_FAN, preset_map


@pytest.mark.parametrize("layout", ["sectors", "strips"])
@pytest.mark.parametrize("count", [2, 5, 16])
def test_every_part_is_there_from_left_to_right(layout, count):
    parts = fan_parts(96, 64, FanOptions(layout, count))
    assert torch.equal(parts.unique(), torch.arange(count))
    assert parts[-1, 0] == 0 and parts[-1, -1] == count - 1  # bottom corners
    assert torch.all(parts[-1].diff() >= 0)  # along the bottom row they only go up


def test_strips_are_equal_and_sectors_fan_from_the_bottom_middle():
    strips = fan_parts(60, 10, FanOptions("strips", 4))
    assert torch.equal(strips[3], torch.arange(4).repeat_interleave(15))
    sectors = fan_parts(100, 50, FanOptions("sectors", 4))
    assert sectors[0, 2] == 1 and sectors[0, 97] == 2  # the top corners lie at 135 and 45 degrees from the bottom middle
    assert sectors[0, 49] == 1 and sectors[0, 50] == 2
    assert sectors[-1, 20] == 0 and sectors[-1, 80] == 3


@pytest.mark.parametrize("convention", ["white keeps", WHITE_CHANGES])
def test_with_no_other_option_each_part_changes_by_its_strength(convention):
    fan = FanOptions("sectors", 5, 0.2, 0.6)
    assert fan.strengths() == pytest.approx([0.2, 0.3, 0.4, 0.5, 0.6])
    settings = Settings(source=STRENGTH_FAN, convention=convention, fan_count=5, fan_from=0.2, fan_to=0.6)
    change = to_change(preset_map(STRENGTH_FAN, 80, 40, settings), settings.map_options())
    parts = fan_parts(80, 40, fan)
    for part, strength in enumerate(fan.strengths()):
        assert torch.allclose(change[parts == part], torch.tensor(strength))
    assert [text for _, text in fan_labels(80, 40, settings)] == ["0.20", "0.30", "0.40", "0.50", "0.60"]


def test_labels_show_the_strengths_after_the_map_options():
    settings = Settings(source=STRENGTH_FAN, fan_count=3)
    assert [text for _, text in fan_labels(90, 60, settings)] == ["0.00", "0.50", "1.00"]
    inverted = Settings(source=STRENGTH_FAN, fan_count=3, invert=True, strength=0.5)
    assert [text for _, text in fan_labels(90, 60, inverted)] == ["0.50", "0.25", "0.00"]
    descending = Settings(source=STRENGTH_FAN, fan_layout="strips", fan_count=3, fan_from=0.9, fan_to=0.1)
    labels = fan_labels(90, 60, descending)
    assert [text for _, text in labels] == ["0.90", "0.50", "0.10"]
    assert [centre for centre, _ in labels] == [(14.5, 29.5), (44.5, 29.5), (74.5, 29.5)]


def test_the_fan_is_a_source_and_a_preset_with_defaults():
    assert STRENGTH_FAN in SOURCES
    default = preset_map(STRENGTH_FAN, 32, 16)
    assert torch.equal(default, preset_map(STRENGTH_FAN, 32, 16, Settings()))
    assert torch.equal(default, strength_fan(32, 16))
    assert sorted((1 - default).unique().tolist()) == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])


@pytest.mark.parametrize(
    "values, field",
    [
        ({"fan_layout": "circle"}, "fan_layout"),
        ({"fan_count": 2.5}, "fan_count"),
        ({"fan_count": 1}, "fan_count"),
        ({"fan_count": 17}, "fan_count"),
        ({"fan_from": -0.1}, "fan_from"),
        ({"fan_to": 1.5}, "fan_to"),
    ],
)
def test_bad_fan_settings_name_the_field(values, field):
    with pytest.raises(MapError) as error:
        Settings.from_values(values)
    assert error.value.field == field


@pytest.mark.parametrize(
    "options, field",
    [
        (dict(layout="rings"), "fan_layout"),
        (dict(count=3.5), "fan_count"),
        (dict(count=True), "fan_count"),
        (dict(count=float("nan")), "fan_count"),
        (dict(start=2), "fan_from"),
    ],
)
def test_bad_fan_options_name_the_field(options, field):
    with pytest.raises(MapError) as error:
        FanOptions(**options)
    assert error.value.field == field


def test_annotating_draws_on_a_copy_of_the_same_size():
    gray = np.full((120, 200, 3), 128, dtype=np.uint8)
    output = Image.fromarray(gray)
    annotated = annotate_fan(output, Settings(source=STRENGTH_FAN, fan_count=4))
    assert annotated.size == output.size and annotated.mode == "RGB"
    assert np.array_equal(np.asarray(output), gray)  # the output itself is untouched
    changed = np.any(np.asarray(annotated) != gray, axis=-1)
    assert 0.01 < changed.mean() < 0.2  # borders and four labels, the rest is the output
    for (x, y), _ in fan_labels(200, 120, Settings(source=STRENGTH_FAN, fan_count=4)):
        assert changed[int(y) - 2 : int(y) + 3, int(x) - 8 : int(x) + 9].any()
