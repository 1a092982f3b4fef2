"""XYZ-plot axes: described from SETTINGS, recorded per cell, validated by the API's parser."""

import base64
import io
from copy import copy
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from diffdiff_webui.api_args import parse_script_args
from lib_diffdiff.maps import MapError
from lib_diffdiff.params import SETTINGS, SOURCES, Settings
from diffdiff_webui.xyz_axes import AXES, OVERRIDES_ATTR, apply_overrides, register_axes, swept_values

BY_NAME = {axis.setting.name: axis for axis in AXES}


class FakeAxisOption:
    """The constructor signature of the WebUI 1.10 scripts/xyz_grid.py AxisOption."""

    def __init__(self, label, type, apply, format_value=None, confirm=None, cost=0.0, choices=None, prepare=None):
        self.label, self.type, self.apply, self.format_value = label, type, apply, format_value
        self.confirm, self.cost, self.choices = confirm, cost, choices


class FakeAxisOptionImg2Img(FakeAxisOption):
    is_img2img = True


def fake_xyz_grid(with_img2img_option=True):
    module = SimpleNamespace(AxisOption=FakeAxisOption, axis_options=[FakeAxisOption("Nothing", str, None)])
    if with_img2img_option:
        module.AxisOptionImg2Img = FakeAxisOptionImg2Img
    return module


def png_text() -> str:
    buffer = io.BytesIO()
    Image.fromarray(np.full((8, 8), 128, np.uint8)).save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_one_axis_per_sweepable_setting_with_readable_labels():
    assert [axis.setting.name for axis in AXES] == [s.name for s in SETTINGS if s.sweepable]
    swept = {"enabled", "source", "convention", "invert", "blur", "contrast", "strength", "future_hinting"}
    assert swept | {"fan_count", "fan_from", "fan_to", "release", "composite", "fill"} == set(BY_NAME)
    assert BY_NAME["strength"].label == "[DiffDiff] Strength scale"
    assert len({axis.label for axis in AXES}) == len(AXES)


def test_numbers_are_float_axes_and_the_rest_offer_choices():
    for name in ("blur", "contrast", "strength"):
        assert BY_NAME[name].type is float and BY_NAME[name].choices is None
    for name in ("enabled", "invert", "future_hinting", "composite"):
        assert BY_NAME[name].type is str and BY_NAME[name].choices() == ["True", "False"]
    assert BY_NAME["source"].choices() == list(SOURCES)
    assert "radial" in BY_NAME["source"].choices() and "inpaint mask" in BY_NAME["source"].choices()
    assert BY_NAME["release"].choices() == ["continuous", "stepped"]


def test_legends_are_readable():
    assert BY_NAME["strength"].format_value(None, None, 0.1 + 0.2) == "DiffDiff strength scale: 0.3"
    assert BY_NAME["blur"].format_value(None, None, 4.0) == "DiffDiff blur: 4"
    assert BY_NAME["future_hinting"].format_value(None, None, "False") == "DiffDiff future hinting: off"
    assert BY_NAME["enabled"].format_value(None, None, "True") == "DiffDiff enable: on"
    assert BY_NAME["source"].format_value(None, None, "radial") == "DiffDiff map source: radial"
    assert BY_NAME["release"].format_value(None, None, "stepped") == "DiffDiff release: stepped"


def test_apply_records_typed_values_on_the_cell_only():
    job = SimpleNamespace()
    BY_NAME["strength"].apply(job, 0.5, [0.5, 1.0])
    cell = copy(job)  # the XYZ plot runs each cell on a shallow copy of the job
    BY_NAME["future_hinting"].apply(cell, "False", ["True", "False"])
    BY_NAME["strength"].apply(cell, 1.5, [0.5, 1.5])
    assert swept_values(cell) == {"strength": 1.5, "future_hinting": False}
    assert swept_values(job) == {"strength": 0.5}
    assert swept_values(SimpleNamespace()) == {}


@pytest.mark.parametrize(
    "name, values, message",
    [
        ("strength", [0.5, 3.0], "between 0 and 2"),
        ("blur", [float("nan")], "finite"),
        ("contrast", [-1.0], "between 0 and 4"),
        ("source", ["radial", "webcam"], "must be one of"),
        ("invert", ["maybe"], "must be true or false"),
    ],
)
def test_bad_swept_values_name_the_setting_before_the_grid_starts(name, values, message):
    axis = BY_NAME[name]
    with pytest.raises(MapError, match=message) as error:
        axis.confirm(None, values)
    assert error.value.field == name
    with pytest.raises(MapError):
        axis.apply(SimpleNamespace(), values[-1], values)


def test_good_values_are_confirmed():
    BY_NAME["strength"].confirm(None, [0.0, 1.0, 2.0])
    BY_NAME["source"].confirm(None, list(SOURCES))
    BY_NAME["invert"].confirm(None, ["True", "False"])


def test_without_overrides_the_settings_are_returned_as_they_are():
    settings = Settings(enabled=True, source="radial")
    assert apply_overrides(settings, SimpleNamespace()) is settings


def test_sweeping_turns_a_disabled_job_on_and_decodes_its_map():
    text = png_text()
    settings = parse_script_args([{"enabled": False, "map": text, "blur": 2}])
    assert settings.map == text  # left undecoded while off
    cell = SimpleNamespace()
    BY_NAME["strength"].apply(cell, 0.25, [0.25])
    swept = apply_overrides(settings, cell)
    assert swept.enabled and swept.strength == 0.25 and swept.blur == 2.0
    assert isinstance(swept.map, Image.Image) and swept.map.size == (8, 8)


def test_an_enable_axis_value_decides():
    cell = SimpleNamespace()
    BY_NAME["enabled"].apply(cell, "False", ["True", "False"])
    BY_NAME["strength"].apply(cell, 0.5, [0.5])
    assert apply_overrides(Settings(enabled=True, source="radial"), cell).enabled is False


def test_sweeping_needs_a_map_for_the_upload_source_and_says_so():
    cell = SimpleNamespace()
    BY_NAME["contrast"].apply(cell, 2.0, [2.0])
    with pytest.raises(MapError, match="no map was given") as error:
        apply_overrides(Settings(), cell)
    assert error.value.field == "map"
    BY_NAME["source"].apply(cell, "radial", ["radial"])
    assert apply_overrides(Settings(), cell).source == "radial"


def test_a_bad_override_set_directly_on_the_job_names_the_field():
    cell = SimpleNamespace(**{OVERRIDES_ATTR: {"strength": 9.0}})
    with pytest.raises(MapError, match="strength: must lie between 0 and 2"):
        apply_overrides(Settings(source="radial"), cell)


def test_registration_adds_img2img_axes_once():
    xyz_grid = fake_xyz_grid()
    assert register_axes(xyz_grid) == len(AXES)
    assert register_axes(xyz_grid) == 0  # a script reload adds nothing twice
    ours = xyz_grid.axis_options[1:]
    assert [option.label for option in ours] == [axis.label for axis in AXES]
    assert all(isinstance(option, FakeAxisOptionImg2Img) for option in ours)
    older = fake_xyz_grid(with_img2img_option=False)
    register_axes(older)
    assert type(older.axis_options[-1]) is FakeAxisOption


def test_a_grid_sweeps_x_y_and_z_the_way_the_xyz_plot_calls_the_axes():
    xyz_grid = fake_xyz_grid()
    register_axes(xyz_grid)
    options = {option.label: option for option in xyz_grid.axis_options}
    axes = [
        (options["[DiffDiff] Strength scale"], "0.5, 1"),
        (options["[DiffDiff] Map source"], "radial, gradient left to right"),
        (options["[DiffDiff] Future hinting"], "True, False"),
    ]
    job = SimpleNamespace()  # the accordion is off: the UI's values are the defaults
    ui_settings = parse_script_args([setting.default for setting in SETTINGS])
    values = []
    for option, text in axes:  # what the XYZ plot does with each axis before it starts
        typed = [option.type(value.strip()) for value in text.split(",")]
        option.confirm(job, typed)
        values.append(typed)
    cells = {}
    for x in values[0]:
        for y in values[1]:
            for z in values[2]:
                cell = copy(job)
                for (option, _), value, all_values in zip(axes, (x, y, z), values):
                    option.apply(cell, value, all_values)
                settings = apply_overrides(ui_settings, cell)
                cells[(x, y, z)] = (settings.enabled, settings.strength, settings.source, settings.future_hinting)
    assert len(cells) == 8
    assert cells[(0.5, "radial", "False")] == (True, 0.5, "radial", False)
    assert cells[(1.0, "gradient left to right", "True")] == (True, 1.0, "gradient left to right", True)
    assert not hasattr(job, OVERRIDES_ATTR)
    legends = [[option.format_value(job, option, value) for value in typed] for (option, _), typed in zip(axes, values)]
    assert legends[0] == ["DiffDiff strength scale: 0.5", "DiffDiff strength scale: 1"]
    assert legends[2] == ["DiffDiff future hinting: on", "DiffDiff future hinting: off"]
