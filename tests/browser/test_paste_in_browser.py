"""Paste-back in a real browser (headless Chromium) on the stand-in img2img page (standin_page.py).

Each test opens a fresh page and acts as a user: types generation parameters into the prompt box,
presses "Read generation parameters", clicks the controls, uploads maps, presses Generate, and reads
what the page shows. No test may leave an error or warning in the browser console.
"""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from diffdiff_webui.job import MAP_HASH_KEY
from lib_diffdiff.maps import map_hash, read_map, to_change
from lib_diffdiff.params import BY_NAME, SETTINGS, Settings
from lib_diffdiff.presets import preset_map
from standin_page import infotext_line, parse_parameters
from user import User

PLAIN = "a lighthouse at dusk\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 512x512"
PREVIEW_SIZE = 256  # the preview's size without an init image
PREVIEW_TINT = 0.65 * 255  # red added at full change strength over a blank init


@pytest.fixture(scope="module")
def user(browser, page_url):
    return User(browser, page_url)


@pytest.fixture
def page(user):
    user.open()
    yield user
    assert user.console_problems() == []


@pytest.fixture
def maps(tmp_path):
    """Two different change maps as PNG files, and the hash the job writes for each."""
    files = {}
    for name, values in (("rows", lambda x, y: 4 * y), ("steps", lambda x, y: 40 * (x // 16))):
        image = Image.new("L", (96, 64))
        image.putdata([values(x, y) for y in range(64) for x in range(96)])
        path = tmp_path / f"{name}.png"
        image.save(path)
        files[name] = (path, map_hash(read_map(path)))
    return files


def pasted_text(settings: Settings, **extra) -> str:
    return "a lighthouse at dusk\n" + infotext_line({"Steps": 20, "Sampler": "Euler", **settings.infotext(), **extra})


def diffdiff_entries(text: str) -> dict:
    return {key: value for key, value in parse_parameters(text).items() if key.startswith("DiffDiff")}


def shown(settings: Settings) -> dict:
    """What each control of an infotext key shows for these settings."""
    return {s.name: getattr(settings, s.name) for s in SETTINGS if s.infotext and s.name != "enabled"}


FAN = Settings(True, "strength fan", None, "white changes", True, 2.5, 1.5, 0.8, False, "strips", 4.0, 0.1, 0.7)
UPLOADED = Settings(True, "upload", None, "white changes", True, 4.0, 0.5, 1.2, False)


@pytest.mark.parametrize("settings", [FAN, UPLOADED], ids=["strength fan", "upload"])
def test_every_setting_pastes_back_and_generates_the_same_parameters(page, maps, settings):
    path, digest = maps["rows"]
    extra = {MAP_HASH_KEY: digest} if settings.source == "upload" else {}
    text = pasted_text(settings, **extra)
    page.paste(text)
    for name, value in shown(settings).items():
        page.wait_for(lambda: page.value(BY_NAME[name]) == value, f"{name} to show {value!r}")
    if settings.source == "upload":
        page.upload_map(path)
    assert diffdiff_entries(page.generate()) == diffdiff_entries(text)


def test_pasting_a_plain_generation_turns_the_extension_off(page):
    page.paste(pasted_text(FAN))
    page.wait_for(lambda: page.value(BY_NAME["source"]) == "strength fan", "the pasted source")
    assert "DiffDiff: True" in page.generate()
    page.paste(PLAIN)
    assert "DiffDiff" not in page.generate()


def test_keys_missing_from_pasted_parameters_set_their_defaults(page):
    page.paste(pasted_text(FAN))
    page.wait_for(lambda: page.value(BY_NAME["fan_count"]) == 4.0, "the pasted fan")
    # no release or composite key: written before the continuous rule and the composite existed
    radial = Settings(enabled=True, source="radial", release="stepped", composite=False)
    page.paste("a lighthouse\nSteps: 20, DiffDiff: True, DiffDiff source: radial")
    for name, value in shown(radial).items():
        page.wait_for(lambda: page.value(BY_NAME[name]) == value, f"{name} to show its default {value!r}")
    assert diffdiff_entries(page.generate()) == diffdiff_entries(pasted_text(radial))


def test_unusable_pasted_values_take_defaults_or_limits_and_are_named(page, capfd):
    page.paste(pasted_text(FAN))
    page.wait_for(lambda: page.value(BY_NAME["convention"]) == "white changes", "the pasted convention")
    bad = {"DiffDiff convention": "black keeps", "DiffDiff blur": "1000", "DiffDiff fan layout": "spiral", "DiffDiff strength": "lots"}
    page.paste("a lighthouse\n" + infotext_line({**FAN.infotext(), **bad}))
    expected = {"convention": "white keeps", "blur": 64.0, "fan_layout": "sectors", "strength": 1.0}
    for name, value in expected.items():
        page.wait_for(lambda: page.value(BY_NAME[name]) == value, f"{name} to show {value!r}")
    page.wait_for(lambda: all(key in page.status() for key in bad), "the status to name every ignored key")
    console = capfd.readouterr().out
    for key, value in bad.items():
        assert f"{key}: {value}" in console
    assert "DiffDiff invert" not in page.status()


def test_a_pasted_upload_asks_for_its_map_until_that_map_is_uploaded(page, maps):
    (path, digest), (other, other_digest) = maps["rows"], maps["steps"]
    page.paste(pasted_text(UPLOADED, **{MAP_HASH_KEY: digest}))
    page.wait_for(lambda: f"hash {digest}: upload that map" in page.status(), "the map request")
    assert "no map was given" in page.generate()
    page.upload_map(other)
    page.wait_for(lambda: f"{digest} is needed; the uploaded one has hash {other_digest}" in page.status(), "the mismatch")
    page.clear_map()  # as a user does, who sees the request again before choosing the other file
    page.wait_for(lambda: f"hash {digest}: upload that map" in page.status(), "the map request again")
    page.upload_map(path)
    page.wait_for(lambda: f"matches the pasted hash {digest}" in page.status(), "the match")
    assert f"{MAP_HASH_KEY}: {digest}" in page.generate()
    page.paste(PLAIN)
    page.wait_for(lambda: page.status() == "", "the status to clear")


def expected_preview(settings: Settings, gray: torch.Tensor | None = None) -> torch.Tensor:
    if gray is None:
        gray = preset_map(settings.source, PREVIEW_SIZE, PREVIEW_SIZE, settings)
    return to_change(gray, settings.map_options()) * PREVIEW_TINT


def test_the_preview_shows_the_map_after_every_change(page, maps):
    step = 16
    settings = Settings(enabled=True)
    changes = [
        ("source", "radial"),
        ("convention", "white changes"),
        ("invert", True),
        ("blur", 6.0),
        ("contrast", 2.0),
        ("strength", 0.5),
        ("source", "strength fan"),
        ("fan_layout", "strips"),
        ("fan_count", 4.0),
        ("fan_from", 0.2),
        ("fan_to", 0.9),
        ("source", "gradient top to bottom"),
    ]
    for name, value in changes:
        page.set(BY_NAME[name], value)
        settings = Settings(**{**settings.__dict__, name: value})
        expected = expected_preview(settings)[::step, ::step].flatten()
        page.wait_for(lambda: _close(page.preview_reds(step), expected), f"the preview after {name} = {value!r}")
    path, _ = maps["rows"]
    page.set(BY_NAME["source"], "upload")
    page.upload_map(path)
    gray = read_map(Image.open(path).resize((PREVIEW_SIZE, PREVIEW_SIZE), Image.BILINEAR))  # stretched over the blank init
    expected = expected_preview(Settings(**{**settings.__dict__, "source": "upload"}), gray)[::step, ::step].flatten()
    page.wait_for(lambda: _close(page.preview_reds(step), expected), "the preview of the uploaded map")
    assert page.preview_reads_frequently() is True


def _close(shown, expected: torch.Tensor, tolerance: float = 3.0) -> bool:
    if shown is None:
        return False
    width, height, reds = shown
    return (width, height) == (PREVIEW_SIZE, PREVIEW_SIZE) and torch.allclose(torch.tensor(reds, dtype=torch.float32), expected, atol=tolerance)


def test_the_fan_controls_show_only_for_the_fan_and_the_map_only_for_an_upload(page):
    fan_controls = [setting.name for setting in SETTINGS if setting.name.startswith("fan_")]

    def shown_controls():
        return {name: page.find(name).is_displayed() for name in ["map", *fan_controls]}

    assert shown_controls() == {"map": True, **dict.fromkeys(fan_controls, False)}
    for source, map_shown, fan_shown in (("strength fan", False, True), ("radial", False, False), ("upload", True, False)):
        page.set(BY_NAME["source"], source)
        expected = {"map": map_shown, **dict.fromkeys(fan_controls, fan_shown)}
        page.wait_for(lambda: shown_controls() == expected, f"the controls of source {source!r}")
