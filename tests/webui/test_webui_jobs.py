"""The script inside the stand-in WebUI: its UI, infotext, settings, and the life of a job's hook."""

import gradio as gr
import numpy as np
import pytest
import torch
from conftest import SIZE, WebUI, gray, scene
from modules import infotext_utils, processing, scripts, shared
from modules.ui_components import InputAccordion
from PIL import Image
from torch.overrides import TorchFunctionMode

from diffdiff_webui.job import ATTRIBUTE, MAP_HASH_KEY, UnusableSettings
from lib_diffdiff.fan import annotate_fan
from lib_diffdiff.maps import WHITE_CHANGES, map_hash, read_map, to_change, to_latent
from lib_diffdiff.params import INPAINT_MASK, SETTINGS, Settings
from lib_diffdiff.presets import PRESETS, STRENGTH_FAN, preset_map


def test_gradio_is_the_webuis_version():
    assert gr.__version__ == "3.41.2"


def test_one_control_per_setting_in_settings_order(webui):
    components = webui.components
    assert len(components) == len(SETTINGS) == webui.script.args_to - webui.script.args_from
    assert isinstance(components[0], InputAccordion) and components[0].value is False
    for component, setting in zip(components[1:], SETTINGS[1:]):
        assert component.label == setting.label
        expected = {bool: gr.Checkbox, float: gr.Slider, object: gr.Image}.get(setting.kind, (gr.Radio, gr.Dropdown))
        assert isinstance(component, expected), setting.name
        if setting.kind is float:
            assert (component.minimum, component.maximum, component.step) == (setting.minimum, setting.maximum, setting.step)
        if setting.kind is str:
            assert list(component.choices) == [(c, c) for c in setting.choices] or list(component.choices) == list(setting.choices)
        assert component.value == setting.default or (component.value is None and setting.default is None)
    ids = [c.elem_id for c in components[1:]] + [components[0].accordion_id]
    assert len(set(ids)) == len(ids) and all(i.startswith("diffdiff_img2img_") for i in ids)
    assert Settings.from_positional([c.value for c in components]) == Settings()


def test_shown_on_img2img_only(webui):
    assert webui.script.show(True) is scripts.AlwaysVisible
    assert webui.script.show(False) is False
    assert webui.script.title() == "Differential Diffusion"


def test_default_convention_comes_from_the_settings_section(webui):
    assert shared.opts.data_labels["diffdiff_convention"].section == ("diffdiff", "Differential Diffusion")
    assert "diffdiff_preview" in shared.opts.data_labels
    shared.opts.diffdiff_convention = WHITE_CHANGES
    try:
        ui = WebUI()
        convention = SETTINGS.index(next(s for s in SETTINGS if s.name == "convention"))
        assert ui.components[convention].value == WHITE_CHANGES
    finally:
        del shared.opts.data["diffdiff_convention"]


@pytest.mark.parametrize(
    "source_values",
    [dict(source="upload"), dict(source="strength fan", fan_layout="strips", fan_count=4.0, fan_from=0.1, fan_to=0.7)],
    ids=["upload", "strength fan"],
)
def test_every_setting_goes_into_the_infotext_and_pastes_back(webui, source_values):
    common = dict(
        enabled=True, convention=WHITE_CHANGES, invert=True, blur=2.5, contrast=1.5, strength=0.8, future_hinting=False, release="stepped"
    )
    values = {**common, **source_values}
    map_image = gray(0.25)
    result = processing.process_images(webui.job(map=map_image, **values))
    params = infotext_utils.parse_generation_parameters(result.infotexts[0])
    drawn = map_image if values["source"] == "upload" else preset_map(values["source"], SIZE, SIZE, Settings(**values))
    assert params[MAP_HASH_KEY] == map_hash(read_map(drawn))
    pasted = infotext_utils.paste_values(params, webui.runner.infotext_fields)
    by_component = {id(component): value for (component, _), value in zip(webui.runner.infotext_fields, pasted)}
    expected = {**{setting.name: setting.default for setting in SETTINGS}, **values}
    for setting, component in zip(SETTINGS, webui.components):
        if setting.infotext:  # settings of another source are left out, and pasting sets them to their default
            assert by_component[id(component)] == expected[setting.name], setting.name
    assert set(webui.runner.paste_field_names) == {s.infotext for s in SETTINGS if s.infotext}


def test_disabled_adds_no_tensor_operation(webui):
    class Count(TorchFunctionMode):
        calls = 0

        def __torch_function__(self, func, types, args=(), kwargs=None):
            Count.calls += 1
            return func(*args, **(kwargs or {}))

    def run(p):
        Count.calls = 0
        with Count():
            result = processing.process_images(p)
        return Count.calls, result

    bare = webui.job(sampler="DPM++ 2M")
    bare.scripts = None
    bare_calls, bare_result = run(bare)
    disabled = webui.job(sampler="DPM++ 2M", map=gray(0.5))  # a map is there, the accordion is off
    disabled_calls, disabled_result = run(disabled)
    assert disabled_calls == bare_calls
    assert bare_result.images[0].tobytes() == disabled_result.images[0].tobytes()
    assert not hasattr(disabled, ATTRIBUTE) and "forward" not in vars(disabled.sampler.model_wrap_cfg)
    assert "DiffDiff" not in disabled_result.infotexts[0]


@pytest.mark.parametrize("sampler", ["Euler a", "DPM++ SDE", "DDIM", "Restart"])
def test_an_interrupted_job_leaves_nothing_behind(webui, sampler):
    plain = processing.process_images(webui.job(sampler=sampler, steps=24)).images[0].tobytes()
    model = shared.sd_model
    seen = []

    def interrupt_midway(x_t, t, cond):
        seen.append(t)
        if len(seen) == 5:
            shared.state.interrupt()

    model.observer = interrupt_midway
    try:
        p = webui.job(model=model, sampler=sampler, steps=24, enabled=True, map=gray(0.3))
        processing.process_images(p)
    finally:
        model.observer = None
    assert shared.state.interrupted and len(seen) == 5
    assert getattr(p, ATTRIBUTE).closed and "forward" not in vars(p.sampler.model_wrap_cfg)
    shared.state.begin()
    after = processing.process_images(webui.job(model=model, sampler=sampler, steps=24)).images[0].tobytes()
    assert after == plain


def test_an_unusable_map_fails_the_job_with_its_field_and_the_next_job_is_plain(webui):
    plain = processing.process_images(webui.job()).images[0].tobytes()
    for settings, field in [
        (dict(source="upload", map=None), "map"),
        (dict(source=INPAINT_MASK), "source"),
        (dict(map=gray(0.5), blur=-1.0), "blur"),
    ]:
        with pytest.raises(UnusableSettings, match=f"Differential Diffusion: {field}: ") as raised:
            processing.process_images(webui.job(enabled=True, **settings))
        assert raised.value.field == field and raised.value.status_code == 422
    assert processing.process_images(webui.job()).images[0].tobytes() == plain


@pytest.mark.parametrize("preset", list(PRESETS))
def test_presets_are_drawn_at_the_job_size(webui, preset):
    p = webui.job(enabled=True, source=preset)
    result = processing.process_images(p)
    expected = to_latent(to_change(preset_map(preset, SIZE, SIZE, Settings()), Settings().map_options()), SIZE // 8, SIZE // 8)
    assert torch.equal(getattr(p, ATTRIBUTE).map.change_latent, expected)
    assert f"DiffDiff source: {preset}" in result.infotexts[0]


def test_strength_fan_adds_a_labelled_copy_of_each_result(webui):
    p = webui.job(enabled=True, source=STRENGTH_FAN, fan_count=4, batch_size=2)
    result = processing.process_images(p)
    assert len(result.images) == len(result.infotexts) == 4
    for plain, labelled in zip(result.images[:2], result.images[2:]):
        assert labelled.size == plain.size and labelled.tobytes() != plain.tobytes()
        assert labelled.tobytes() == annotate_fan(plain, getattr(p, ATTRIBUTE).settings).tobytes()
    plain_job = processing.process_images(webui.job(enabled=True, source="radial"))
    assert len(plain_job.images) == 1


def square_mask(size: int, box: tuple) -> Image.Image:
    mask = Image.new("L", (size, size), 0)
    mask.paste(255, box)
    return mask


@pytest.mark.parametrize(
    ("model", "sampler"),
    [("sd1", "DPM++ 2M"), ("sd3", "Euler"), ("sd3", "DPM++ 2M"), ("sd3", "LCM")],
    ids=["SD1-DPM++ 2M", "SD3-Euler", "SD3-DPM++ 2M", "SD3-LCM"],
)
def test_soft_inpainting_keeps_every_pixel_the_map_keeps_exactly(webui, model, sampler):
    original = scene()
    mask = square_mask(SIZE, (16, 16, 48, 48))
    p = webui.job(
        model=model,
        init=original,
        sampler=sampler,
        mask=mask,
        mask_blur=4,
        inpaint_full_res=False,
        denoising_strength=1.0,
        enabled=True,
        source=INPAINT_MASK,
    )
    result = processing.process_images(p)
    change = getattr(p, ATTRIBUTE).map.change_full
    kept = (change * 255).round() == 0
    out, before = np.asarray(result.images[0]), np.asarray(original)
    assert kept.any() and (~kept).any()
    assert (out[kept.numpy()] == before[kept.numpy()]).all(), "kept pixels are the original, exactly"
    assert (out[(change == 1).numpy()] != before[(change == 1).numpy()]).any()
    # soft: the map's transition band is wider than the rounded mask the WebUI blends with
    partial = (change > 0.02) & (change < 0.98)
    assert partial.sum() > 4 * SIZE
    assert f"DiffDiff source: {INPAINT_MASK}" in result.infotexts[0]


def test_only_masked_inpainting_crops_the_map_with_the_image(webui):
    big = scene().resize((2 * SIZE, 2 * SIZE))
    left_changes = Image.new("L", (2 * SIZE, 2 * SIZE), 255)
    left_changes.paste(0, (0, 0, SIZE, 2 * SIZE))  # white keeps: the left half changes
    mask = square_mask(2 * SIZE, (SIZE // 2, SIZE // 2, 3 * SIZE // 2, 3 * SIZE // 2))
    p = webui.job(init=big, mask=mask, mask_blur=0, inpaint_full_res=True, enabled=True, map=left_changes)
    processing.process_images(p)
    assert p.paste_to == (SIZE // 2, SIZE // 2, SIZE, SIZE)
    change = getattr(p, ATTRIBUTE).map.change_latent
    assert (change[:, :4] == 1).all() and (change[:, 4:] == 0).all()


def test_batch_tab_gives_each_image_the_map_named_like_it(webui, tmp_path):
    from modules import img2img

    images, maps = tmp_path / "in", tmp_path / "maps"
    images.mkdir(), maps.mkdir()
    for name, box in (("cat", (0, 0, 32, 64)), ("dog", (32, 0, 64, 64))):
        scene().save(images / f"{name}.jpg")
        square_mask(SIZE, box).save(maps / f"{name}.png")
    p = webui.job(enabled=True, source=INPAINT_MASK, mask_blur=0, inpaint_full_res=False)
    results = img2img.process_batch(p, str(images), str(maps))
    assert [name for name, _ in results] == ["cat.jpg", "dog.jpg"]
    for (name, result), changed_columns in zip(results, (slice(0, 32), slice(32, 64))):
        expected = torch.zeros(SIZE, SIZE)
        expected[:, changed_columns] = 1.0
        assert f"{MAP_HASH_KEY}: {map_hash(expected)}" in result.infotexts[0], name


@pytest.mark.parametrize("blur", [0.0, 12.0], ids=["mask blur only", "our blur reaching past the crop"])
def test_soft_inpainting_with_only_masked_keeps_the_whole_picture_outside_the_map(webui, blur):
    big = scene().resize((2 * SIZE, 2 * SIZE))
    mask = square_mask(2 * SIZE, (SIZE // 2, SIZE // 2, 3 * SIZE // 2, 3 * SIZE // 2))
    settings = dict(enabled=True, source=INPAINT_MASK, blur=blur)
    p = webui.job(init=big, mask=mask, mask_blur=4, inpaint_full_res=True, denoising_strength=1.0, **settings)
    result = processing.process_images(p)
    assert result.images[0].size == big.size and p.paste_to is not None
    change = getattr(p, ATTRIBUTE).map.change_full
    x, y, w, h = p.paste_to
    outside = torch.ones_like(change, dtype=torch.bool)
    outside[y : y + h, x : x + w] = False
    kept = (((change * 255).round() == 0) | outside).numpy()
    out, before = np.asarray(result.images[0]), np.asarray(big)
    assert outside.any() and (out[kept] == before[kept]).all()
    assert (out[(change > 0.9).numpy()] != before[(change > 0.9).numpy()]).any()


# Masks and per-axis blurs where a float blur and the WebUI's 8-bit one disagree at the mask's edge
# (the first is issue 9's: a 24 px square on 64 px, mask blur 4).
EDGE_CASES = {
    "24 px square, blur 4": ((20, 20, 44, 44), 4, 4),
    "touching the left edge, blur 3 x 7": ((0, 10, 24, 40), 3, 7),
    "touching the top edge, blur 7 x 3": ((30, 0, 64, 20), 7, 3),
    "32 px square, blur 1": ((16, 16, 48, 48), 1, 1),
    "tall strip, vertical blur only": ((8, 8, 20, 56), 0, 5),
}


def soft_inpainting_job(webui, box, blur_x, blur_y, **kwargs):
    p = webui.job(mask=square_mask(SIZE, box), denoising_strength=1.0, enabled=True, source=INPAINT_MASK, **kwargs)
    p.mask_blur_x, p.mask_blur_y = blur_x, blur_y
    return p


@pytest.mark.parametrize("box, blur_x, blur_y", EDGE_CASES.values(), ids=EDGE_CASES.keys())
def test_soft_inpainting_map_is_the_webuis_own_blurred_mask(webui, box, blur_x, blur_y):
    """Issue 9: with "only masked" the WebUI keeps its blurred mask at full size; our map is that mask, level for level."""
    p = soft_inpainting_job(webui, box, blur_x, blur_y, inpaint_full_res=True, inpaint_full_res_padding=8)
    processing.process_images(p)
    webui_mask = np.asarray(p.mask_for_overlay.convert("L"))
    change = getattr(p, ATTRIBUTE).map.change_full.numpy()
    assert (np.round(change * 255) == webui_mask).all()
    assert (change[webui_mask == 0] == 0).all() and (change[webui_mask == 255] == 1).all()


@pytest.mark.parametrize("box, blur_x, blur_y", EDGE_CASES.values(), ids=EDGE_CASES.keys())
def test_soft_inpainting_keeps_every_pixel_outside_the_webuis_blurred_mask(webui, box, blur_x, blur_y):
    """Issue 9: every pixel where the WebUI's own blurred mask is 0 is the original, to the level. The
    picture is black and white pixels, so that a result blended in by even 1/255 lands on another level."""
    original = Image.fromarray(np.random.default_rng(9).choice([0, 255], size=(SIZE, SIZE, 3)).astype(np.uint8))
    p = soft_inpainting_job(webui, box, blur_x, blur_y, init=original, inpaint_full_res=False)
    result = processing.process_images(p)
    outside = np.asarray(p.mask_for_overlay.convert("L")) == 0  # the WebUI's overlay mask: 0 exactly where its blurred mask is
    out, before = np.asarray(result.images[0]), np.asarray(original)
    assert outside.any() and (~outside).any()
    assert (out[outside] == before[outside]).all()
    assert (out[~outside] != before[~outside]).any()
