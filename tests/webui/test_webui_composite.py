"""Kept means kept in the saved picture: the composite lays the init picture over the decoded result by
the map, so pixels of strength 0 are the init picture bit for bit, not the VAE's round trip of it
(the stand-in's VAE averages 8 x 8 blocks, so a round trip is never exact on the test scene)."""

import numpy as np
import pytest
from conftest import SIZE, gray, scene
from modules import images, processing
from PIL import Image
from test_webui_behaviours import job_map, keep_left_half, run, square_mask
from test_webui_sampling import ALL

from lib_diffdiff.params import INPAINT_MASK, PRESETS, UPLOAD
from lib_diffdiff.presets import STRENGTH_FAN


def pixels(image) -> np.ndarray:
    return np.asarray(image.convert("RGB"))


def strength_at_pixels(p) -> np.ndarray:
    """Each output pixel's change strength in 8-bit levels, as the composite's alpha reads it."""
    return (job_map(p).change_full * 255).round().numpy()


@pytest.mark.parametrize("sampler", ALL)
def test_an_all_keep_map_saves_the_init_picture_bit_for_bit_on_every_sampler(webui, sampler):
    _, result, latent = run(webui, sampler=sampler, enabled=True, map=gray(1.0))
    assert np.array_equal(pixels(result.images[0]), pixels(scene()))
    round_trip = processing.decoded_pictures(_, latent)[0]
    assert not np.array_equal(pixels(round_trip), pixels(scene())), "the scene must not survive the VAE's round trip"


@pytest.mark.parametrize("source", [UPLOAD, INPAINT_MASK, STRENGTH_FAN, *PRESETS])
def test_strength_0_is_the_init_picture_and_strength_1_the_decoded_result(webui, source):
    settings = dict(enabled=True, source=source)
    extra = {}
    if source == UPLOAD:
        settings["map"] = keep_left_half()
    if source == INPAINT_MASK:
        extra = dict(mask=square_mask(SIZE, SIZE, (16, 16, 48, 48)), mask_blur=4, inpaint_full_res=False)
    p, result, latent = run(webui, **settings, **extra)
    out, strength = pixels(result.images[0]), strength_at_pixels(p)
    kept, free = strength == 0, strength == 255
    assert kept.any(), "the source keeps some pixels entirely"
    assert np.array_equal(out[kept], pixels(scene())[kept])
    decoded = pixels(processing.decoded_pictures(p, latent)[0])
    assert np.array_equal(out[free], decoded[free])


def test_composite_off_saves_the_decoded_picture_as_before(webui):
    p, result, latent = run(webui, enabled=True, map=keep_left_half(), composite=False)
    assert np.array_equal(pixels(result.images[0]), pixels(processing.decoded_pictures(p, latent)[0]))
    assert "DiffDiff composite: False" in result.infotexts[0]


@pytest.mark.parametrize("resize_mode", [0, 1, 2, 3])
def test_every_resize_mode_keeps_the_init_picture_as_the_job_fitted_it(webui, resize_mode):
    init = scene().resize((96, 64), Image.BICUBIC)
    p, result, _ = run(webui, init=init, resize_mode=resize_mode, enabled=True, map=keep_left_half(96, 64))
    fitted = images.resize_image(0 if resize_mode == 3 else resize_mode, init, SIZE, SIZE)
    kept = strength_at_pixels(p) == 0
    assert kept.any() and np.array_equal(pixels(result.images[0])[kept], pixels(fitted)[kept])


def test_only_masked_keeps_the_init_picture_where_either_the_mask_or_the_map_keeps(webui):
    """An upload map on the inpaint tab, "only masked": the WebUI pastes the crop back and keeps what
    its mask keeps; the composite keeps, in the full picture, whatever the map keeps too."""
    init = scene().resize((96, 96), Image.BICUBIC)
    mask = square_mask(96, 96, (24, 24, 72, 72))
    p, result, _ = run(webui, init=init, mask=mask, mask_blur=0, inpaint_full_res=True, inpaint_full_res_padding=8,
                       enabled=True, map=keep_left_half(96, 96))
    out = pixels(result.images[0])
    assert out.shape == (96, 96, 3)
    kept = strength_at_pixels(p) == 0
    outside_mask = np.asarray(mask) == 0
    assert np.array_equal(out[kept | outside_mask], pixels(init)[kept | outside_mask])
    assert not np.array_equal(out, pixels(init))


def test_every_picture_of_a_batch_is_composited(webui):
    _, result, _ = run(webui, batch_size=2, n_iter=2, enabled=True, map=gray(1.0))
    assert len(result.images) == 4
    for image in result.images:
        assert np.array_equal(pixels(image), pixels(scene()))


def test_colour_correction_still_corrects_the_changed_pixels_and_the_composite_keeps_the_rest(webui, monkeypatch):
    """The WebUI corrects colours before it lays any overlay: changed pixels take the correction,
    kept ones stay the init picture exactly."""
    from modules import shared

    _, plain, _ = run(webui, enabled=True, map=keep_left_half())
    monkeypatch.setitem(shared.opts.data, "img2img_color_correction", True)
    p, corrected, _ = run(webui, enabled=True, map=keep_left_half())
    strength = strength_at_pixels(p)
    kept, free = strength == 0, strength == 255
    out = pixels(corrected.images[0])
    assert np.array_equal(out[kept], pixels(scene())[kept])
    assert not np.array_equal(out[free], pixels(plain.images[0])[free]), "the correction changed the released pixels"


def test_the_batch_tab_saves_each_image_with_its_own_maps_kept_pixels_exact(webui, tmp_path):
    """Batch tab, source `inpaint mask`: each image's map is its own mask; what it keeps is the image."""
    from modules import img2img

    images, maps = tmp_path / "in", tmp_path / "maps"
    images.mkdir(), maps.mkdir()
    for name, box in (("cat", (0, 0, 32, 64)), ("dog", (32, 0, 64, 64))):
        scene().save(images / f"{name}.png")
        square_mask(SIZE, SIZE, box).save(maps / f"{name}.png")
    p = webui.job(enabled=True, source=INPAINT_MASK, mask_blur=0, inpaint_full_res=False)
    results = img2img.process_batch(p, str(images), str(maps))
    for (name, result), kept_columns in zip(results, (slice(32, 64), slice(0, 32))):
        out = pixels(result.images[0])
        assert np.array_equal(out[:, kept_columns], pixels(scene())[:, kept_columns]), name
        assert not np.array_equal(out, pixels(scene())), name
