"""The glue against WebUI behaviours where jobs differ from plain img2img: per-axis mask blur, "only
masked" at an image edge, latent upscale (resize mode 3), the four "masked content" modes, and a
refiner switch part way through the steps.

"Kept" means: with the `inpaint mask` source, a pixel whose change strength is 0 (the final composite
pastes the original there); with the `upload` source, a pixel in a latent cell whose change strength
is 0. The WebUI pastes original pixels only outside its own inpaint mask, so inside it an upload map's
kept pixel is the decoder's picture of the original latent: it must equal, pixel for pixel, the same
job run with an all-keep map.
"""

import numpy as np
import pytest
import torch
from conftest import SIZE, gray, scene
from modules import processing
from PIL import Image
from test_webui_sampling import model_calls  # noqa: F401  (the fixture)
from tiny_models import TinyLatentDiffusion

from diffdiff_webui.job import ATTRIBUTE
from lib_diffdiff import SigmaSpace, TimestepSpace
from lib_diffdiff.params import INPAINT_MASK, UPLOAD

SOURCES = [INPAINT_MASK, UPLOAD]


def square_mask(width: int, height: int, box: tuple) -> Image.Image:
    mask = Image.new("L", (width, height), 0)
    mask.paste(255, box)
    return mask


def keep_left_half(width: int = SIZE, height: int = SIZE) -> Image.Image:
    """White (keep, the default convention) on the left half, black (full change) on the right."""
    return square_mask(width, height, (0, 0, width // 2, height))


def run(webui, **kwargs):
    """(job, result, final latent) of a job of one picture; the latent is the one the loaded model
    decoded last (the refiner's, after a switch)."""
    p = webui.job(**kwargs)
    result = processing.process_images(p)
    return p, result, p.sd_model.decoded[-1]


def encoded(p, picture) -> torch.Tensor:
    batch = torch.from_numpy(pixels(picture) / 255.0).permute(2, 0, 1)[None].float()
    return p.sd_model.encode_first_stage(batch * 2 - 1)


def pixels(image) -> np.ndarray:
    return np.asarray(image.convert("RGB"))


def job_map(p):
    return getattr(p, ATTRIBUTE).map


def kept_by_map(p) -> np.ndarray:
    """Pixels of the final image whose change strength is 0 at full-picture size."""
    return ((job_map(p).change_full * 255).round() == 0).numpy()


def kept_cells(p) -> torch.Tensor:
    return job_map(p).change_latent == 0


def cells_to_pixels(cells: torch.Tensor) -> np.ndarray:
    return cells.repeat_interleave(8, 0).repeat_interleave(8, 1).numpy()


def assert_kept_exactly(webui, p, result, latent, original, job):
    """Every kept pixel (see the module docstring) and every kept latent cell is exactly the original;
    `job` is what the job was made of, for the all-keep run."""
    out = pixels(result.images[0])
    if job["source"] == INPAINT_MASK:
        kept = kept_by_map(p)
        assert kept.any() and (~kept).any()
        assert (out[kept] == pixels(original)[kept]).all(), "pixels the map keeps are the original"
        return
    cells = kept_cells(p)
    assert cells.any() and (~cells).any()
    assert torch.equal(latent[..., cells], p.init_latent[..., cells]), "kept cells are the original latent"
    if p.paste_to is None:  # the output is the job's picture: compare pixel for pixel with an all-keep run
        _, reference, _ = run(webui, **{**job, "enabled": True, "source": UPLOAD, "map": gray(1.0)})
        kept = cells_to_pixels(cells)
        assert (out[kept] == pixels(reference.images[0])[kept]).all()


def source_settings(source, upload_map=None):
    if source == INPAINT_MASK:
        return dict(enabled=True, source=INPAINT_MASK)
    return dict(enabled=True, source=UPLOAD, map=upload_map if upload_map is not None else keep_left_half())


# --- mask blur per axis -------------------------------------------------------------------------


@pytest.mark.parametrize("source", SOURCES)
def test_mask_blur_per_axis(webui, source):
    """The WebUI blurs the 8-bit mask along x with mask_blur_x and then along y with mask_blur_y; the
    soft-inpainting map is that mask, so it is wider along y here."""
    original = scene()
    mask = square_mask(SIZE, SIZE, (24, 24, 40, 40))
    job = dict(init=original, mask=mask, mask_blur_x=1, mask_blur_y=6, inpaint_full_res=False, denoising_strength=1.0, **source_settings(source))
    p, result, latent = run(webui, **job)
    assert p.mask_blur is None and "Mask blur" in p.extra_generation_params
    assert_kept_exactly(webui, p, result, latent, original, job)
    webui_mask = processing.blur_along(processing.blur_along(mask, 1, axis=1), 6, axis=0)
    outside = np.asarray(webui_mask) == 0
    assert (pixels(result.images[0])[outside] == pixels(original)[outside]).all(), "the WebUI's own composite"
    if source == INPAINT_MASK:
        change = job_map(p).change_full.numpy()
        assert np.array_equal((change * 255).round(), np.asarray(webui_mask)), "the map is the WebUI's blurred mask, level for level"
        assert np.array_equal(kept_by_map(p), outside), "the map keeps exactly what the WebUI's blurred mask leaves alone"
        rows, columns = np.nonzero(change > 0)
        assert rows.max() - rows.min() > columns.max() - columns.min() + 8, "blurred further along y than along x"


# --- "only masked" with the mask at an image edge -----------------------------------------------


@pytest.mark.parametrize("source", SOURCES)
def test_only_masked_with_the_mask_at_the_top_edge(webui, source):
    """The crop is grown to the job's aspect ratio; where that pushes it past the top edge, the WebUI
    slides it down whole (it does not cut it smaller), and the map is cropped with the same region."""
    big = scene().resize((2 * SIZE, 2 * SIZE))
    mask = square_mask(2 * SIZE, 2 * SIZE, (40, 0, 72, 16))
    upload_map = Image.new("L", big.size, 0)
    upload_map.paste(255, (0, 0, SIZE, 2 * SIZE))  # keep the left half of the picture...
    upload_map.paste(255, (0, 39, 2 * SIZE, 2 * SIZE))  # ...and everything from row 39 down
    job = dict(init=big, mask=mask, mask_blur=4, inpaint_full_res=True, denoising_strength=1.0, **source_settings(source, upload_map))
    p, result, latent = run(webui, **job)
    left, top, right, bottom = processing.blur_along(processing.blur_along(mask, 4, axis=1), 4, axis=0).getbbox()
    assert top == 0
    side = right - left  # the blurred mask is twice as wide as high: the crop becomes a square from the top edge
    assert p.paste_to == (left, 0, side, side) and side > bottom
    assert p.paste_to == (30, 0, 52, 52)  # the indices below are worked out for this crop
    assert_kept_exactly(webui, p, result, latent, big, job)
    if source == UPLOAD:  # the map cropped like the picture: the crop's rows 39-51 and columns 0-33 keep
        change = job_map(p).change_latent  # a latent cell is 8 job pixels = 6.5 crop pixels
        assert (change[7:] == 0).all() and (change[:, :5] == 0).all()
        assert (change[:5, 6:] == 1).all()


# --- resize mode 3: just resize (latent upscale) ------------------------------------------------


def test_latent_upscale_resizes_the_latent_and_stretches_the_map_with_it(webui):
    """Resize mode 3 encodes the picture at its own size and stretches its latent to the job's; an
    upload map is stretched the same way (not fitted with bars, as the WebUI's resize_image would)."""
    picture = scene().resize((3 * SIZE // 2, SIZE))
    upload_map = square_mask(*picture.size, (0, 0, picture.width, SIZE // 4))  # keep the top quarter
    job = dict(init=picture, resize_mode=3, denoising_strength=1.0, **source_settings(UPLOAD, upload_map))
    p, result, latent = run(webui, **job)
    own_size = encoded(p, picture)
    assert own_size.shape[-1] == 12 and torch.equal(p.init_latent, torch.nn.functional.interpolate(own_size, size=(8, 8), mode="bilinear"))
    change = job_map(p).change_latent
    assert (change[:2] == 0).all() and (change[2:] == 1).all()
    assert_kept_exactly(webui, p, result, latent, picture, job)


def test_latent_upscale_with_soft_inpainting_keeps_the_original_pixels(webui):
    original = scene()
    job = dict(init=original, mask=square_mask(SIZE, SIZE, (16, 16, 48, 48)), resize_mode=3, inpaint_full_res=False, **source_settings(INPAINT_MASK))
    p, result, latent = run(webui, **job)
    assert_kept_exactly(webui, p, result, latent, original, job)


# --- masked content ------------------------------------------------------------------------------


@pytest.mark.parametrize("composite", [True, False], ids=["composite", "composite off"])
@pytest.mark.parametrize("fill", [0, 1, 2, 3], ids=["fill", "original", "latent noise", "latent nothing"])
def test_every_masked_content_mode_with_soft_inpainting(webui, fill, composite):
    """Whatever the masked area starts from, pixels the map keeps are the original, the composite mixes
    in the original by the map's keep strength ((1 - c)^2; 1 - c as jobs were made before the composite
    setting), and cells the map releases keep the sampler's result (the WebUI's rounded-mask blend
    would put the start latent back where the mask rounds to 0)."""
    original = scene()
    job = dict(init=original, mask=square_mask(SIZE, SIZE, (16, 16, 48, 48)), mask_blur=8, inpaint_full_res=False, inpainting_fill=fill)
    job.update(source_settings(INPAINT_MASK), composite=composite)
    p, result, latent = run(webui, **job)
    assert_kept_exactly(webui, p, result, latent, original, job)
    change = job_map(p).change_full
    generated = processing.decoded_pictures(p, latent)[0]
    overlay = original.convert("RGB")
    keep = (1 - change) ** 2 if composite else 1 - change
    overlay.putalpha(Image.fromarray((keep * 255).round().byte().numpy()))
    expected = generated.convert("RGBA")
    expected.alpha_composite(overlay)
    assert (pixels(result.images[0]) == pixels(expected)).all(), "composited by the map's keep strength"
    released = (job_map(p).change_latent > 0) & (p.nmask[0] == 0)
    assert released.any() and not torch.equal(latent[..., released], p.init_latent[..., released])
    assert torch.equal(p.init_latent, encoded(p, original)) == (fill == 1), "only 'original' starts from the picture itself"


# --- refiner switch part way through the steps ---------------------------------------------------


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("sampler", ["Euler a", "DPM++ 2M", "DDIM", "UniPC"])
def test_injection_goes_on_after_a_refiner_switch(webui, sampler, source, model_calls):
    """The refiner accordion swaps the checkpoint inside the CFG denoiser when sampling has come
    `refiner_switch_at` of the way; the denoiser object, and so the hook on it, stays the same."""
    original = scene()
    base, refiner = webui.models("sd1"), TinyLatentDiffusion("sd1")
    evaluations = {"base": 0, "refiner": 0}
    base.observer = lambda *call: evaluations.__setitem__("base", evaluations["base"] + 1)
    refiner.observer = lambda *call: evaluations.__setitem__("refiner", evaluations["refiner"] + 1)
    mask = square_mask(SIZE, SIZE, (24, 24, 40, 40)) if source == INPAINT_MASK else None
    job = dict(init=original, sampler=sampler, steps=12, denoising_strength=1.0, mask=mask, mask_blur=4, inpaint_full_res=False)
    job.update(source_settings(source), refiner=refiner, refiner_switch_at=0.5)
    try:
        p, result, latent = run(webui, **job)
    finally:
        base.observer = refiner.observer = None
    assert evaluations["base"] > 0 and evaluations["refiner"] > 0, evaluations
    assert "Refiner: refiner-" in result.infotexts[0]
    noise = processing.ImageRNG(p.init_latent.shape[1:], p.all_seeds).next()
    space = TimestepSpace(base.alphas_cumprod) if sampler in ("DDIM", "UniPC") else SigmaSpace()
    held = kept_cells(p)
    assert held.any() and len(model_calls) == evaluations["base"] + evaluations["refiner"]
    for x, level, _ in model_calls:
        expected = torch.empty_like(p.init_latent)
        space.noise_into(expected, p.init_latent, noise, level)
        assert torch.equal(x[..., held], expected[..., held]), level
    model_calls.clear()
    assert_kept_exactly(webui, p, result, latent, original, job)
