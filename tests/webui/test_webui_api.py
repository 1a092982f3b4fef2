"""The HTTP API through a real FastAPI test client over the stand-in: both argument forms, script-info,
and every bad input answered with 4xx naming its field (no stack trace), the next request working."""

import base64
import io
import json
import struct
import zlib
from pathlib import Path

import pytest
from conftest import WebUI, gray, scene, tiny_model
from fastapi.testclient import TestClient
from modules import errors, shared

from lib_diffdiff.images import open_image as real_open_image
from lib_diffdiff.maps import map_hash, read_map
from lib_diffdiff.params import SETTINGS

PATH = "/sdapi/v1/img2img"
TITLE = "Differential Diffusion"


def b64(image, fmt="PNG") -> str:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return base64.b64encode(buffer.getvalue()).decode()


def png_claiming(width: int, height: int) -> str:
    """A valid little PNG whose header claims width x height (a decompression bomb's shape)."""
    data = bytearray(base64.b64decode(b64(gray(0.5))))
    ihdr = bytearray(data[12:29])
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    return base64.b64encode(bytes(data)).decode()


@pytest.fixture
def client(webui):
    shared.sd_model = tiny_model("sd1")  # the checkpoint the WebUI has loaded
    return TestClient(webui.app(), raise_server_exceptions=False)


def request(args, **fields):
    return {"init_images": [b64(scene())], "alwayson_scripts": {TITLE: {"args": args}}, **fields}


def infotext(response) -> str:
    assert response.status_code == 200, response.text
    return json.loads(response.json()["info"])["infotexts"][0]


def test_named_arguments_with_a_data_url_map(client):
    map_image = gray(0.3)
    text = infotext(client.post(PATH, json=request([{"enabled": True, "map": "data:image/png;base64," + b64(map_image), "strength": 0.8}])))
    assert "DiffDiff: True" in text and "DiffDiff strength: 0.8" in text
    assert f"DiffDiff map: {map_hash(read_map(map_image))}" in text


@pytest.mark.parametrize("form", ["named", "positional"])
def test_a_requests_map_is_decoded_once_for_the_route_check_and_the_job(client, monkeypatch, form):
    import diffdiff_webui.api_args as api_args

    decoded = []
    monkeypatch.setattr(api_args, "open_image", lambda data, *rest: decoded.append(data) or real_open_image(data, *rest))
    text = b64(gray(0.35 if form == "named" else 0.45))  # a map no earlier test sent
    args = [{"enabled": True, "map": text}] if form == "named" else [True, "upload", text]
    assert "DiffDiff: True" in infotext(client.post(PATH, json=request(args)))
    assert len(decoded) == 1


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_positional_arguments_in_ui_order(client, fmt):
    args = [True, "upload", b64(gray(0.5).convert("RGB"), fmt), "white changes", False, 0.0, 1.0, 1.0, False]
    text = infotext(client.post(PATH, json=request(args)))
    assert "DiffDiff convention: white changes" in text and "DiffDiff hinting: False" in text


def test_inpaint_mask_source_uses_the_requests_own_mask(client):
    mask = gray(0.0)
    mask.paste(255, (16, 16, 48, 48))
    text = infotext(client.post(PATH, json=request([{"enabled": True, "source": "inpaint mask"}], mask=b64(mask), inpaint_full_res=False)))
    assert "DiffDiff source: inpaint mask" in text


def test_disabled_and_absent_arguments_run_plain_img2img(client):
    assert "DiffDiff" not in infotext(client.post(PATH, json=request([{"enabled": False}])))
    assert "DiffDiff" not in infotext(client.post(PATH, json={"init_images": [b64(scene())]}))


BAD = [
    ("map not base64", [{"enabled": True, "map": "not*base64!"}], "map", "not valid base64"),
    ("map not an image", [{"enabled": True, "map": base64.b64encode(b"hello, world").decode()}], "map", "not an image"),
    ("map empty", [{"enabled": True, "map": ""}], "map", "empty"),
    ("map over the pixel cap", [{"enabled": True, "map": png_claiming(100_000, 100_000)}], "map", "larger than the limit"),
    ("map missing with upload", [{"enabled": True}], "map", "no map was given"),
    ("unknown key", [{"enabled": True, "strenght": 1.0}], "strenght", "valid ones are enabled, source, map"),
    ("strength not a number", [{"enabled": True, "map": b64(gray(0.5)), "strength": "lots"}], "strength", "must be a number"),
    ("invert not a boolean", [{"enabled": True, "map": b64(gray(0.5)), "invert": 3}], "invert", "true or false"),
    ("blur out of range", [{"enabled": True, "map": b64(gray(0.5)), "blur": 1000}], "blur", "must lie between"),
    ("unknown source", [{"enabled": True, "source": "spiral"}], "source", "must be one of"),
    ("unknown fill", [{"enabled": True, "map": b64(gray(0.5)), "fill": "sprinkles"}], "fill", "must be one of"),
    ("args not a list", {"enabled": True}, "args", "must be a list"),
    ("too many positional values", [setting.default for setting in SETTINGS] + [5], "args", "at most"),
    ("inpaint mask source without a mask", [{"enabled": True, "source": "inpaint mask"}], "mask", "request's own mask"),
]


@pytest.mark.parametrize("case", BAD, ids=[case[0] for case in BAD])
def test_bad_input_is_a_4xx_naming_the_field_and_the_next_request_works(client, case):
    _, args, field, words = case
    response = client.post(PATH, json=request(args))
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["field"] == field and body["detail"].startswith(f"{field}: ") and words in body["detail"]
    assert not errors.reported
    assert "DiffDiff: True" in infotext(client.post(PATH, json=request([{"enabled": True, "map": b64(gray(0.5))}])))


def test_nan_is_refused(client):
    body = json.dumps(request([{"enabled": True, "map": b64(gray(0.5)), "contrast": float("nan")}]))
    response = client.post(PATH, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422 and response.json()["field"] == "contrast" and "finite" in response.json()["detail"]


def test_script_info_describes_every_argument(client):
    infos = client.get("/sdapi/v1/script-info").json()
    ours = next(info for info in infos if info["name"] == TITLE.lower())
    assert ours["is_alwayson"] and ours["is_img2img"] and len(ours["args"]) == len(SETTINGS)
    for arg, setting in zip(ours["args"][1:], SETTINGS[1:]):
        assert arg["label"] == setting.label
        if setting.kind is float:
            assert (arg["minimum"], arg["maximum"], arg["step"], arg["value"]) == (
                setting.minimum,
                setting.maximum,
                setting.step,
                setting.default,
            )
        if setting.choices:
            assert arg["choices"] == list(setting.choices)


def test_the_route_check_is_installed_once(webui):
    from diffdiff_webui import api

    app = webui.app()
    assert api.install(app, TITLE)
    route = next(route for route in app.routes if getattr(route, "path", None) == PATH)
    assert isinstance(route.app, api.RequestValidator) and not isinstance(route.app.app, api.RequestValidator)


NEIGHBOUR = Path(__file__).resolve().parent / "neighbours" / "seven_arguments.py"
NEIGHBOUR_ARGS = [True, 2.0, 0.25, 3.0, 1.0, 0.75, 1.5]


@pytest.mark.parametrize("place", ["before", "after"], ids=["neighbour loads first (built-in)", "neighbour loads after ours"])
@pytest.mark.parametrize(
    "ours",
    [
        None,
        [{"enabled": True, "map": b64(gray(0.3))}],
        [True, "radial"],
        [True, "radial", *(setting.default for setting in SETTINGS[2:])],
        [False],
        [{"enabled": True, "source": "inpaint mask"}],
    ],
    ids=["absent", "named", "positional, two values", "positional, every value", "off", "inpaint mask"],
)
@pytest.mark.parametrize("theirs", [None, NEIGHBOUR_ARGS], ids=["their defaults", "their values"])
def test_our_arguments_never_shift_another_always_on_scripts(webui, place, ours, theirs):
    """Issue 9: the WebUI's Soft inpainting once got none of its seven arguments. Whatever form our
    arguments take, and whichever script loads first, the other script gets exactly its own."""
    from modules import scripts

    ui = WebUI(**{place: [NEIGHBOUR]})
    neighbour = next(data.module for data in scripts.scripts_data if data.path == str(NEIGHBOUR))
    neighbour.received.clear()
    shared.sd_model = tiny_model("sd1")
    client = TestClient(ui.app(), raise_server_exceptions=False)
    alwayson = {}
    if ours is not None:
        alwayson[TITLE] = {"args": ours}
    if theirs is not None:
        alwayson[neighbour.TITLE] = {"args": theirs}
    body = {"init_images": [b64(scene())], "alwayson_scripts": alwayson, "mask": b64(gray(1.0))}
    response = client.post(PATH, json=body)
    assert response.status_code == 200, response.text
    expected = tuple(theirs or neighbour.DEFAULTS)
    assert neighbour.received == [("process", expected), ("post_sample", expected), ("postprocess", expected)]
