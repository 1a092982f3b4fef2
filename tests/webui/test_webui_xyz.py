"""XYZ-plot axes registered on a stand-in of scripts/xyz_grid.py, and a sweep whose cells get the swept values."""

import pytest
from conftest import WebUI, gray
from modules import errors, scripts, shared

from diffdiff_webui import xyz
from diffdiff_webui.job import ATTRIBUTE
from diffdiff_webui.xyz_axes import AXES


def xyz_module():
    return next(data.module for data in scripts.scripts_data if data.script_class.__module__ == "xyz_grid.py")


def axis(module, label):
    return next(option for option in module.axis_options if option.label == "[DiffDiff] " + label)


def test_axes_are_registered_img2img_only_and_once(webui):
    ui = WebUI(with_xyz=True)
    module = xyz_module()
    ours = [option for option in module.axis_options if option.label.startswith("[DiffDiff] ")]
    assert [option.label for option in ours] == [a.label for a in AXES]
    assert all(isinstance(option, module.AxisOptionImg2Img) for option in ours)
    assert xyz.register() == 0, "a second registration adds nothing"
    assert len(ui.runner.alwayson_scripts) == 1


def test_without_the_xyz_script_nothing_is_registered_and_nothing_complains(webui):
    assert xyz.xyz_grid_module() is None and xyz.register() == 0
    assert not errors.reported


def test_a_sweep_over_x_y_and_z_gives_each_cell_its_values_with_the_accordion_off(webui):
    ui = WebUI(with_xyz=True)
    module = xyz_module()
    grid = module.Script()
    p = ui.job(map=gray(0.4))  # accordion off, a map in it
    cells = grid.run_grid(
        p,
        axis(module, "Strength scale"),
        "0.5, 1",
        axis(module, "Future hinting"),
        y_dropdown=["True", "False"],
        z_opt=axis(module, "Map source"),
        z_dropdown=["upload", "radial"],
    )
    assert len(cells) == 8
    for result, pc, (strength, hinting, source), legends in cells:
        settings = getattr(pc, ATTRIBUTE).settings
        assert settings.enabled and settings.strength == strength and settings.source == source
        assert settings.future_hinting == (hinting == "True")
        assert legends == [
            f"DiffDiff strength scale: {strength:g}",
            f"DiffDiff future hinting: {'on' if hinting == 'True' else 'off'}",
            f"DiffDiff map source: {source}",
        ]
        assert f"DiffDiff strength: {strength}" in result.infotexts[0]
    assert not hasattr(p, ATTRIBUTE), "the cells ran on copies: the job itself is untouched"


def test_the_enable_axis_puts_plain_img2img_beside_the_result(webui):
    ui = WebUI(with_xyz=True)
    module = xyz_module()
    cells = module.Script().run_grid(ui.job(map=gray(0.4)), axis(module, "Enable"), "", x_dropdown=["False", "True"])
    off, on = cells
    assert not hasattr(off[1], ATTRIBUTE) and "DiffDiff" not in off[0].infotexts[0]
    assert getattr(on[1], ATTRIBUTE).settings.enabled and "DiffDiff: True" in on[0].infotexts[0]


def test_a_bad_swept_value_is_refused_before_any_cell_runs(webui):
    ui = WebUI(with_xyz=True)
    module = xyz_module()
    p = ui.job(map=gray(0.4))
    with pytest.raises(ValueError, match="strength: must lie between"):
        module.Script().run_grid(p, axis(module, "Strength scale"), "0.5, 7")
    assert shared.sd_model.decoded == [], "no cell ran"


@pytest.mark.parametrize("order", [["True", "False"], ["False", "True"], ["True", "False", "True"]], ids=", ".join)
def test_each_cells_infotext_tells_only_its_own_run(webui, order):
    """Issue 9: the cells are shallow copies of one job and share its extra_generation_params; a cell
    run without Differential Diffusion after one run with it must not inherit its infotext."""
    ui = WebUI(with_xyz=True)
    module = xyz_module()
    p = ui.job(map=gray(0.4))  # accordion off, a map in it
    cells = module.Script().run_grid(p, axis(module, "Enable"), "", x_dropdown=order)
    for (result, _, (enabled, _, _), _), expected in zip(cells, order):
        assert enabled == expected
        text = result.infotexts[0]
        if enabled == "True":
            assert "DiffDiff: True" in text and "DiffDiff map: " in text
        else:
            assert "DiffDiff" not in text, text
    assert not any(key.startswith("DiffDiff") for key in p.extra_generation_params), "the job the cells copy is untouched"


def test_cells_sweeping_a_setting_each_write_their_own_value(webui):
    ui = WebUI(with_xyz=True)
    module = xyz_module()
    cells = module.Script().run_grid(ui.job(map=gray(0.4)), axis(module, "Map source"), "", x_dropdown=["radial", "upload"])
    radial, upload = (result.infotexts[0] for result, *_ in cells)
    assert "DiffDiff source: radial" in radial and "DiffDiff source: upload" in upload
    assert radial.split("DiffDiff map: ")[1] != upload.split("DiffDiff map: ")[1], "each cell's own map hash"
