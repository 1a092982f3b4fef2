"""Change maps: every input kind, every option, every resize mode, and clear errors."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from lib_diffdiff.maps import (
    WHITE_CHANGES,
    WHITE_KEEPS,
    MapError,
    MapOptions,
    fit_to_image,
    map_hash,
    prepare_change_map,
    read_map,
    to_change,
    to_latent,
)

GRAY = np.array([[0, 64, 128], [192, 255, 32]], dtype=np.uint8)
EXPECTED = torch.from_numpy(GRAY.astype(np.float32) / 255)


@pytest.mark.parametrize(
    "image",
    [
        Image.fromarray(GRAY, "L"),
        Image.fromarray(GRAY, "L").convert("LA"),
        Image.fromarray(GRAY, "L").convert("RGB"),
        Image.fromarray(GRAY, "L").convert("RGBA"),
        Image.fromarray(GRAY, "L").convert("P"),
        Image.fromarray((GRAY.astype(np.uint16) * 257), "I;16"),
        Image.fromarray(GRAY.astype(np.int32) * 257).convert("I"),
        Image.fromarray(GRAY.astype(np.float32) / 255, "F"),
    ],
    ids=lambda image: image.mode,
)
def test_every_pil_mode_reads_as_the_same_gray_levels(image):
    assert torch.allclose(read_map(image), EXPECTED, atol=1 / 255)


def test_colour_is_reduced_to_luminance_like_pil():
    rgb = np.random.default_rng(0).integers(0, 256, (4, 5, 3), dtype=np.uint8)
    pil_gray = np.asarray(Image.fromarray(rgb, "RGB").convert("L"), dtype=np.float32) / 255
    assert torch.allclose(read_map(rgb), torch.from_numpy(pil_gray), atol=1 / 255)
    assert torch.allclose(read_map(torch.from_numpy(rgb).permute(2, 0, 1)), torch.from_numpy(pil_gray), atol=1 / 255)


@pytest.mark.parametrize(
    "array",
    [GRAY, GRAY[..., None], GRAY.astype(np.float32) / 255, (GRAY.astype(np.uint16) * 257), torch.from_numpy(GRAY)[None, None]],
    ids=["uint8", "hw1", "float", "uint16", "tensor-nchw"],
)
def test_arrays_and_tensors(array):
    assert torch.allclose(read_map(array), EXPECTED, atol=1e-6)


def test_paths_and_bytes(tmp_path):
    path = tmp_path / "map.png"
    Image.fromarray(GRAY, "L").save(path)
    assert torch.allclose(read_map(path), EXPECTED)
    assert torch.allclose(read_map(str(path)), EXPECTED)
    assert torch.allclose(read_map(path.read_bytes()), EXPECTED)


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.array([[0.5, np.nan]], dtype=np.float32), "NaN or infinite"),
        (np.array([[0.5, np.inf]]), "NaN or infinite"),
        (np.array([[0.5, 1.5]]), r"must lie in \[0, 1\]"),
        (np.zeros((0, 4), dtype=np.uint8), "empty"),
        (np.array([[1, 2]], dtype=np.int64), "unsupported value type"),
        (np.zeros((2, 3, 4, 5)), "2-D map"),
        (b"not an image", "the data is not an image; send PNG, JPEG or WebP"),
        ("/no/such/map.png", "cannot read image file"),
        (None, "no map was given"),
        (3.5, "expected an image"),
        (Image.new("L", (0, 0)), "empty"),
    ],
)
def test_bad_maps_raise_errors_that_say_what_is_wrong(bad, message):
    with pytest.raises(MapError, match=message) as error:
        read_map(bad, field="map")
    assert error.value.field == "map"


def test_conventions_invert_contrast_strength_and_blur():
    gray = torch.tensor([[0.0, 0.25, 1.0]])
    assert torch.allclose(to_change(gray, MapOptions(WHITE_KEEPS)), 1 - gray)
    assert torch.allclose(to_change(gray, MapOptions(WHITE_CHANGES)), gray)
    assert torch.allclose(to_change(gray, MapOptions(WHITE_CHANGES, invert=True)), 1 - gray)
    assert torch.allclose(to_change(gray, MapOptions(WHITE_CHANGES, contrast=2.0)), torch.tensor([[0.0, 0.0, 1.0]]))
    assert torch.allclose(to_change(gray, MapOptions(WHITE_CHANGES, contrast=0.0)), torch.full((1, 3), 0.5))
    assert torch.allclose(to_change(gray, MapOptions(WHITE_CHANGES, strength=0.5)), gray * 0.5)
    assert torch.allclose(to_change(gray, MapOptions(WHITE_CHANGES, strength=2.0)), torch.tensor([[0.0, 0.5, 1.0]]))
    edge = torch.zeros(9, 9)
    edge[:, 5:] = 1
    blurred = to_change(edge, MapOptions(WHITE_CHANGES, blur=2.0))
    assert 0 < blurred[4, 4] < 1 and blurred[4, 0] < 0.05 and blurred[4, 8] > 0.95
    assert torch.allclose(blurred.sum(), edge.sum(), rtol=0.05)


@pytest.mark.parametrize("name, value", [("convention", "black keeps"), ("blur", -1.0), ("contrast", float("nan")), ("strength", "2")])
def test_bad_options_name_the_field(name, value):
    with pytest.raises(MapError) as error:
        MapOptions(**{name: value})
    assert error.value.field == name


def test_resize_modes_match_the_webui():
    # a 4:1 map onto a square image: each mode treats the overflow differently
    gray = torch.zeros(10, 40)
    gray[:, :10] = 1.0  # left quarter white
    just = fit_to_image(gray, 20, 20, 0)
    crop = fit_to_image(gray, 20, 20, 1)
    fill = fit_to_image(gray, 20, 20, 2)
    assert just.shape == crop.shape == fill.shape == (20, 20)
    assert just[:, :4].min() > 0.99 and just[:, 6:].max() < 0.01  # stretched: white quarter stays a quarter
    assert crop.max() < 0.01  # cropped to the middle: the white quarter is cut away
    assert fill[:, :4].min() > 0.99 and fill[0, 10:].max() < 0.01  # fitted inside, edge rows stretched into the borders
    assert torch.equal(fill[0], fill[7]) and torch.equal(fill[-1], fill[-7])
    assert torch.equal(fit_to_image(gray, 20, 20, 3), just)
    with pytest.raises(MapError, match="resize_mode"):
        fit_to_image(gray, 20, 20, 4)


def test_latent_reduction_averages_areas():
    change = torch.zeros(16, 16)
    change[:, :4] = 1.0
    latent = to_latent(change, 2, 2)
    assert torch.allclose(latent, torch.tensor([[0.5, 0.0], [0.5, 0.0]]))


def test_prepare_change_map_end_to_end():
    image = Image.fromarray(np.tile(np.linspace(255, 0, 64).astype(np.uint8), (32, 1)), "L")
    change = prepare_change_map(image, 64, 32, (4, 8), MapOptions())
    assert change.shape == (4, 8)
    assert (change[:, 1:] > change[:, :-1]).all()  # white keeps: left kept, right changed
    assert 0 <= change.min() and change.max() <= 1


def test_map_hash_is_stable_and_tells_maps_apart():
    a = read_map(GRAY)
    assert map_hash(a) == map_hash(read_map(Image.fromarray(GRAY, "L")))
    assert map_hash(a) != map_hash(read_map(GRAY[::-1].copy()))
    assert len(map_hash(a)) == 10


def test_encoded_jpeg_and_webp_read(tmp_path):
    for fmt in ("JPEG", "WEBP"):
        buffer = io.BytesIO()
        Image.fromarray(np.full((8, 8), 200, np.uint8), "L").save(buffer, fmt)
        assert torch.allclose(read_map(buffer.getvalue()), torch.full((8, 8), 200 / 255), atol=3 / 255)


def test_presets_are_gray_maps_with_the_named_direction():
    from lib_diffdiff.presets import PRESETS, preset_map

    left_right = preset_map("gradient left to right", 16, 8)
    top_bottom = preset_map("gradient top to bottom", 16, 8)
    radial = preset_map("radial", 17, 17)
    assert left_right.shape == top_bottom.shape == (8, 16)
    assert left_right[0, 0] == 0 and left_right[0, -1] == 1 and (left_right[:, 1:] > left_right[:, :-1]).all()
    assert top_bottom[0, 0] == 0 and top_bottom[-1, 0] == 1 and (top_bottom[1:] > top_bottom[:-1]).all()
    assert radial[8, 8] == 0 and radial[0, 0] == pytest.approx(1) and radial[8, 0] < radial[0, 0]
    for name in PRESETS:
        gray = preset_map(name, 5, 3)
        assert gray.shape == (3, 5) and 0 <= gray.min() and gray.max() <= 1
    with pytest.raises(MapError, match="unknown preset"):
        preset_map("spiral", 4, 4)


def png_claiming(width: int, height: int) -> bytes:
    """A PNG header that claims width x height, with no pixel data: only a header check can refuse it cheaply."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"") + chunk(b"IEND", b"")


def test_every_form_of_map_is_held_to_the_pixel_cap(tmp_path):
    """The library's paths and bytes go through the API's decoder: an 81 MP map is refused, naming the field."""
    path = tmp_path / "huge.png"
    path.write_bytes(png_claiming(9000, 9000))
    for source in (path, str(path), path.read_bytes()):
        with pytest.raises(MapError, match="^overlay: is larger than the limit of 67108864 pixels: its header says 9000x9000") as error:
            read_map(source, field="overlay")
        assert error.value.field == "overlay"
    for decoded in (np.zeros((30, 30), np.uint8), Image.new("L", (30, 30)), torch.zeros(1, 30, 30)):
        with pytest.raises(MapError, match="^map: is larger than the limit of 800 pixels: it has 30x30 = 900 pixels"):
            read_map(decoded, max_pixels=800)
        assert read_map(decoded, max_pixels=900).shape == (30, 30)


def test_files_are_held_to_the_same_formats_as_the_api(tmp_path):
    path = tmp_path / "map.gif"
    Image.fromarray(GRAY, "L").save(path)
    with pytest.raises(MapError, match="^map: GIF images are not accepted; send PNG, JPEG or WebP"):
        read_map(path)
