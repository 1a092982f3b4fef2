"""API and UI script arguments: every bad input is a MapError naming its field; good ones decode."""

import base64
import io
import struct
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image, ImageFile, WebPImagePlugin

from diffdiff_webui.api_args import DEFAULT_MAX_PIXELS, decode_image, parse_script_args
from lib_diffdiff.maps import MapError, read_map
from lib_diffdiff.params import SETTINGS, Settings


def encode(image: Image.Image, fmt: str, **save) -> str:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **save)
    return base64.b64encode(buffer.getvalue()).decode()


def gradient(width=32, height=24) -> Image.Image:
    return Image.fromarray((np.arange(width * height).reshape(height, width) % 256).astype(np.uint8), "L")


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def gray_png(width: int, height: int, compressed_rows: bytes) -> bytes:
    """A grayscale PNG whose header says width x height, with the given IDAT payload."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", compressed_rows) + png_chunk(b"IEND", b"")


def zero_bomb(width: int, height: int) -> bytes:
    """A real decompression bomb: a valid all-black PNG that is tiny compressed and huge decoded."""
    packer = zlib.compressobj(9)
    row = b"\0" * (width + 1)  # filter byte + pixels
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    return gray_png(width, height, body)


@pytest.fixture
def no_decoding(monkeypatch):
    """Fail the test if any image's pixel data is decoded."""

    def refuse(self):
        raise AssertionError("pixel data was decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)
    monkeypatch.setattr(WebPImagePlugin.WebPImageFile, "load", refuse)  # WebP decodes in its own load


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
@pytest.mark.parametrize("prefix", ["", "data:image/{};base64,", "DATA:image/{};base64,"])
def test_accepted_formats_decode_with_or_without_a_data_url(fmt, prefix):
    image = gradient()
    text = prefix.format(fmt.lower()) + encode(image, fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    decoded = decode_image(text)
    assert decoded.size == image.size
    difference = np.abs(np.asarray(decoded.convert("L"), dtype=int) - np.asarray(image, dtype=int))
    assert difference.max() <= (0 if fmt != "JPEG" else 40)


def test_whitespace_and_line_breaks_in_base64_are_tolerated():
    image = gradient()
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    wrapped = "\n  " + base64.encodebytes(buffer.getvalue()).decode().replace("\n", "\r\n\t") + " \n"
    assert "\n" in wrapped.strip()
    assert np.array_equal(np.asarray(decode_image(wrapped)), np.asarray(image))


def test_exif_orientation_is_applied_like_the_webui_does_for_init_images():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    decoded = decode_image(encode(gradient(32, 24), "JPEG", exif=exif))
    assert decoded.size == (24, 32)


def test_values_from_the_ui_pass_through():
    image, array = gradient(), np.zeros((4, 4), np.uint8)
    assert decode_image(image) is image
    assert decode_image(array) is array
    assert decode_image(None) is None
    assert decode_image({"image": image, "mask": gradient()}) is image  # gradio 3.41 sketch tool


def bad_image_texts():
    good_png = encode(gradient(), "PNG")
    raw_png = base64.b64decode(good_png)
    noisy = Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8))
    noisy_png, noisy_jpeg, noisy_webp = (base64.b64decode(encode(noisy, fmt)) for fmt in ("PNG", "JPEG", "WEBP"))
    return [
        ("", "is empty"),
        ("  \n ", "is empty"),
        ("data:image/png;base64,", "is empty"),
        ("not base64!", "'!' is not a base64 character"),
        (good_png[:-2], "not valid base64"),  # broken padding
        ("data:image/png," + good_png, "data URL must look like"),
        ("data:text/plain;base64," + good_png, "data URL must look like"),
        ("https://example.com/map.png", "URLs are not fetched"),
        (base64.b64encode(b"hello, this is text").decode(), "not an image"),
        (encode(gradient(), "GIF"), "GIF images are not accepted; send PNG, JPEG or WebP"),
        (encode(gradient().convert("RGB"), "BMP"), "BMP images are not accepted"),
        (base64.b64encode(gray_png(0, 0, zlib.compress(b""))).decode(), "PNG data is corrupt or describes an empty image"),
        (base64.b64encode(raw_png[:20]).decode(), "PNG data is corrupt"),
        (base64.b64encode(noisy_png[: len(noisy_png) // 2]).decode(), "PNG data is truncated or corrupt"),
        (base64.b64encode(gray_png(8, 8, b"not zlib at all")).decode(), "PNG data is truncated or corrupt"),
        (base64.b64encode(noisy_jpeg[: len(noisy_jpeg) // 2]).decode(), "JPEG data is truncated or corrupt"),
        (base64.b64encode(noisy_webp[: len(noisy_webp) // 2]).decode(), "WebP data is corrupt"),
    ]


@pytest.mark.parametrize("text, message", bad_image_texts(), ids=[message for _, message in bad_image_texts()])
def test_bad_maps_name_the_field_and_say_why(text, message):
    with pytest.raises(MapError, match="^overlay: ") as error:
        decode_image(text, field="overlay")
    assert error.value.field == "overlay"
    assert message in str(error.value)


def test_other_types_are_refused():
    with pytest.raises(MapError, match="map: expected a base64-encoded PNG, JPEG or WebP string, got int"):
        decode_image(12)
    with pytest.raises(MapError, match="map: expected an image or a dict with an 'image' entry"):
        decode_image({"picture": "..."})


def test_a_decompression_bomb_is_refused_from_its_header_before_decoding(monkeypatch, no_decoding):
    bomb = zero_bomb(9000, 9000)  # 81 MP: above our 64 MP cap, below Pillow's own warning (89 MP)
    assert len(bomb) < 200_000 and 9000 * 9000 > DEFAULT_MAX_PIXELS
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # as the XYZ plot leaves it: only our cap stands
    with pytest.raises(MapError, match=r"map: is larger than the limit of 67108864 pixels: its header says 9000x9000"):
        decode_image(base64.b64encode(bomb).decode())


@pytest.mark.parametrize("fmt, save", [("PNG", {}), ("JPEG", {}), ("WEBP", {"lossless": True, "method": 0})])
def test_every_format_is_refused_from_its_header(fmt, save, no_decoding):
    text = encode(Image.new("L", (3000, 2000)), fmt, **save)  # small files that decode to 6 MP
    with pytest.raises(MapError, match="map: is larger than the limit of 5000000 pixels: its header says 3000x2000"):
        decode_image(text, max_pixels=5_000_000)


def test_the_cap_can_be_changed(no_decoding):
    text = encode(gradient(32, 24), "PNG")
    with pytest.raises(MapError, match="larger than the limit of 700 pixels: its header says 32x24 = 768 pixels"):
        decode_image(text, max_pixels=700)


def test_the_cap_admits_what_it_allows():
    assert decode_image(encode(gradient(32, 24), "PNG"), max_pixels=768).size == (32, 24)


def test_pillows_own_bomb_error_becomes_ours():
    header_only = base64.b64encode(gray_png(100_000, 100_000, b"")).decode()  # 10 G pixels: Pillow raises itself
    with pytest.raises(MapError, match="map: is larger than the limit of .* pixels .*decompression bomb"):
        decode_image(header_only, max_pixels=10**11)


def test_pillows_bomb_warning_lets_nothing_past_our_cap():
    header_only = base64.b64encode(gray_png(10_000, 10_000, b"")).decode()  # 100 MP: Pillow only warns
    with pytest.warns(Image.DecompressionBombWarning), pytest.raises(MapError, match="map: is larger than the limit"):
        decode_image(header_only)


def test_pillows_bomb_warning_raised_as_an_error_becomes_ours():
    header_only = base64.b64encode(gray_png(10_000, 10_000, b"")).decode()
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with pytest.raises(MapError, match="map: is larger than the limit .*decompression bomb"):
            decode_image(header_only, max_pixels=10**9)


# --- script arguments ------------------------------------------------------------------------------

DEFAULTS = [setting.default for setting in SETTINGS]


def test_positional_and_named_forms_give_equal_settings():
    text = encode(gradient(), "PNG")
    named = {"enabled": True, "map": text, "source": "upload", "blur": 2, "contrast": "1.5", "strength": 0.5, "future_hinting": "false"}
    positional = [True, "upload", text, "white keeps", False, 2.0, 1.5, 0.5, False]
    from_api = parse_script_args([named, *DEFAULTS[1:]])  # the API's copy over the UI defaults
    assert from_api == parse_script_args(positional) == parse_script_args(named)
    assert isinstance(from_api.map, Image.Image) and from_api.map.size == (32, 24)
    assert from_api.strength == 0.5 and from_api.future_hinting is False and from_api.blur == 2.0


def test_the_decoded_map_is_what_read_map_reads():
    settings = parse_script_args([{"enabled": True, "map": "data:image/png;base64," + encode(gradient(), "PNG")}])
    assert read_map(settings.map).shape == (24, 32)


def test_no_arguments_and_ui_defaults_give_the_defaults():
    assert parse_script_args([]) == parse_script_args(DEFAULTS) == Settings()


def test_a_disabled_job_never_decodes_its_map(no_decoding):
    garbage = "this is not base64 at all!"
    settings = parse_script_args([{"enabled": False, "map": garbage}])
    assert settings.map == garbage and not settings.enabled
    assert parse_script_args([{"map": encode(gradient(), "PNG")}]).enabled is False


def test_presets_and_the_inpaint_mask_need_no_map():
    assert parse_script_args([{"enabled": True, "source": "radial"}]).map is None
    assert parse_script_args([{"enabled": True, "source": "inpaint mask"}]).map is None


def test_a_map_given_with_a_preset_source_is_still_checked():
    with pytest.raises(MapError, match="map: is not valid base64"):
        parse_script_args([{"enabled": True, "source": "radial", "map": "??"}])


@pytest.mark.parametrize(
    "args, field, message",
    [
        ([{"enabled": True}], "map", "on with source 'upload' but no map was given"),
        ([{"enabled": True, "map": None}], "map", "no map was given"),
        ([{"enabled": True, "map": {"image": None, "mask": None}}], "map", "no map was given"),
        ([True, "upload", None], "map", "no map was given"),
        ([{"enabled": True, "map": ""}], "map", "is empty"),
        ([{"enabled": True, "map": "%%%"}], "map", "not valid base64"),
        ([{"enabled": True, "map": base64.b64encode(b"plain text").decode()}], "map", "not an image"),
        ([{"enabled": True, "map": 3.5}], "map", "got float"),
        ([{"enabled": True, "strenght": 1.0}], "strenght", "unknown setting; valid ones are enabled, source, map, convention"),
        ([{"enabled": "yes"}], "enabled", "must be true or false"),
        ([{"enabled": 1}], "enabled", "must be true or false"),
        ([{"strength": "a lot"}], "strength", "must be a number"),
        ([{"strength": None}], "strength", "must be a number"),
        ([{"blur": True}], "blur", "must be a number"),
        ([{"blur": 65}], "blur", "between 0 and 64"),
        ([{"contrast": -0.5}], "contrast", "between 0 and 4"),
        ([{"strength": float("nan")}], "strength", "finite"),
        ([{"strength": "NaN"}], "strength", "finite"),
        ([{"strength": float("inf")}], "strength", "finite"),
        ([{"source": "webcam"}], "source", "must be one of"),
        ([{"convention": "black keeps"}], "convention", "must be one of"),
        ([False, "upload", None, "white keeps", False, 0.0, 1.0, 5.0], "strength", "between 0 and 2"),
        ([*DEFAULTS, "one too many"], "args", f"at most {len(DEFAULTS)} values"),
        ("enabled", "args", "expected a list of values in UI order or an object"),
    ],
)
def test_bad_arguments_name_the_field(args, field, message):
    with pytest.raises(MapError) as error:
        parse_script_args(args)
    assert error.value.field == field
    assert str(error.value).startswith(f"{field}: ")
    assert message in str(error.value)


def test_an_oversized_map_in_a_request_names_the_map(no_decoding):
    with pytest.raises(MapError, match="map: is larger than the limit of 100 pixels"):
        parse_script_args([{"enabled": True, "map": encode(gradient(), "PNG")}], max_pixels=100)


def test_a_failed_request_leaves_the_next_one_working():
    with pytest.raises(MapError):
        parse_script_args([{"enabled": True, "map": base64.b64encode(zero_bomb(9000, 9000)).decode()}])
    assert parse_script_args([{"enabled": True, "map": encode(gradient(), "WEBP")}]).map.size == (32, 24)
