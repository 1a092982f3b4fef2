"""Pasting generation parameters into the controls (the browser tests in tests/browser drive the same paths on a page)."""

from conftest import SIZE, gray
from modules import processing
from PIL import Image

from diffdiff_webui.job import MAP_HASH_KEY
from diffdiff_webui.ui import paste_status, read_pasted
from lib_diffdiff.maps import map_hash, read_map
from lib_diffdiff.params import SETTINGS, Settings


def test_the_map_hash_is_of_the_map_as_uploaded_whatever_the_job_size(webui):
    drawn = Image.new("L", (SIZE * 3, SIZE * 2))
    drawn.putdata([(7 * x + 3 * y) % 256 for y in range(SIZE * 2) for x in range(SIZE * 3)])
    result = processing.process_images(webui.job(enabled=True, map=drawn))
    assert f"{MAP_HASH_KEY}: {map_hash(read_map(drawn))}" in result.infotexts[0]


def test_a_non_whole_number_of_fan_parts_takes_the_default_and_is_named():
    params = {**{k: str(v) for k, v in Settings(True, "strength fan").infotext().items()}, "DiffDiff fan parts": "4.5"}
    pasted = read_pasted(params)
    assert pasted.values["fan_count"] == Settings().fan_count
    assert [line.split(":")[0] for line in pasted.ignored] == ["DiffDiff fan parts"]


def test_a_plain_paste_turns_off_and_leaves_the_rest_alone():
    assert read_pasted({"Steps": "20"}).values == {"enabled": False}
    garbled = read_pasted({"DiffDiff": "yes"})
    assert garbled.values == {"enabled": False} and garbled.ignored[0].startswith("DiffDiff: yes")


def test_a_diffdiff_paste_without_other_keys_sets_every_control_to_its_default():
    """Except the release rule and the composite: parameters without their keys were written before they
    existed, by the stepped rule and without a composite, and paste back as they were made."""
    values = read_pasted({"DiffDiff": "True"}).values
    assert values == {s.name: s.default for s in SETTINGS if s.infotext} | {"enabled": True, "release": "stepped", "composite": False}
    assert read_pasted({"DiffDiff": "True", "DiffDiff release": "continuous"}).values["release"] == "continuous"
    assert read_pasted({"DiffDiff": "True", "DiffDiff composite": "True"}).values["composite"] is True


def test_the_status_compares_the_uploaded_map_with_the_pasted_hash():
    digest = map_hash(read_map(gray(0.25)))
    pasted = read_pasted({"DiffDiff": "True", MAP_HASH_KEY: digest}).to_json()
    assert f"`{digest}`: upload that map" in paste_status(pasted, "upload", None)
    assert "matches" in paste_status(pasted, "upload", gray(0.25))
    assert "is needed" in paste_status(pasted, "upload", gray(0.5))
    assert paste_status(pasted, "radial", None) == ""
