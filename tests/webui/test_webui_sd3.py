"""Stable Diffusion 3 in WebUI 1.10: a rectified-flow model, on every sampler 1.10 lists for it.

1.10 hides no sampler for SD3. The k-diffusion samplers (and LCM, and Restart) run it through its own
denoiser (`create_denoiser`: flow sigmas s in (0, 1]) and `sample_img2img` starts from the model's
`add_noise_to_latent` = (1 - s) x0 + s n. The timestep samplers (DDIM, DDIM CFG++, PLMS, UniPC),
which do not suit SD3, noise with `alphas_cumprod` = 1 / (1 + s^2) and hand the model timesteps
(SD3 reads them as sigmas); the script follows each as the job itself noises. Soft inpainting on SD3
is tested with the other families (test_webui_jobs.py).
"""

import itertools

import pytest
import test_webui_sampling
import torch
from conftest import SIZE, gray
from modules import processing, shared
from PIL import Image
from test_engine_samplers import ONE_EVALUATION_PER_STEP, evaluation_windows
from test_webui_sampling import ALL, TIMESTEP, final_latent, halves

from diffdiff_webui.host import A1111
from diffdiff_webui.job import job_schedule
from lib_diffdiff import TimestepSpace

SD3 = "sd3"
model_calls = test_webui_sampling.model_calls  # the fixture: every CFG-denoiser call as the sampler made it
K_DIFFUSION = sorted(set(ALL) - TIMESTEP)
STEPS, DENOISING = 10, 0.45  # k-diffusion runs 5 steps (t_enc + 1), the timestep samplers 4
BANDS = (0.2, 0.4, 0.6, 0.8)  # change strength of latent columns 0-1, 2-3, 4-5, 6-7


def band_order(shift: int = 0) -> list:
    return BANDS[shift:] + BANDS[:shift]


def banded_map(shift: int = 0) -> Image.Image:
    """White keeps: each band's gray is 255 (1 - change), exact; `shift` rotates the bands."""
    image = Image.new("L", (SIZE, SIZE))
    for index, change in enumerate(band_order(shift)):
        image.paste(round(255 * (1 - change)), (index * SIZE // 4, 0, (index + 1) * SIZE // 4, SIZE))
    return image


def job_noise(p):
    return processing.ImageRNG(p.init_latent.shape[1:], p.all_seeds).next()


def noised(p, sampler, noise, level):
    """The original at `level` as the job itself noises its start for this sampler."""
    if sampler in TIMESTEP:
        expected = torch.empty_like(p.init_latent)
        TimestepSpace(shared.sd_model.alphas_cumprod).noise_into(expected, p.init_latent, noise, level)
        return expected
    return shared.sd_model.add_noise_to_latent(p.init_latent, noise, torch.as_tensor(level).flatten()[0])


@pytest.mark.parametrize("sampler", ALL)
def test_sd3_disabled_is_vanilla_img2img_bit_for_bit(webui, sampler):
    disabled, disabled_result, _ = final_latent(webui, model=SD3, sampler=sampler)
    p = webui.job(model=SD3, sampler=sampler)
    p.scripts = None  # the WebUI without the extension
    vanilla = processing.process_images(p)
    assert torch.equal(disabled, torch.cat(shared.sd_model.decoded))
    assert disabled_result.images[0].tobytes() == vanilla.images[0].tobytes()


@pytest.mark.parametrize("sampler", ALL)
def test_sd3_all_change_map_is_plain_img2img_bit_for_bit(webui, sampler):
    plain, plain_result, _ = final_latent(webui, model=SD3, sampler=sampler)
    ours, our_result, _ = final_latent(webui, model=SD3, sampler=sampler, enabled=True, map=gray(0.0))
    assert torch.equal(plain, ours)
    assert plain_result.images[0].tobytes() == our_result.images[0].tobytes()


@pytest.mark.parametrize("sampler", ALL)
@pytest.mark.parametrize("denoising", [1.0, 0.5])
def test_sd3_all_keep_map_returns_the_original_latent_exactly(webui, sampler, denoising):
    latent, _, p = final_latent(webui, model=SD3, sampler=sampler, denoising_strength=denoising, enabled=True, map=gray(1.0))
    assert torch.equal(latent, p.init_latent)


@pytest.mark.parametrize("sampler", ALL)
def test_sd3_kept_pixels_are_noised_as_the_model_noises_its_img2img_start(webui, sampler, model_calls):
    """Every model call sees the kept half exactly as the job's own start would be at that level:
    add_noise_to_latent for the k-diffusion samplers, not the x0 + sigma n of SD 1.x."""
    latent, _, p = final_latent(webui, model=SD3, sampler=sampler, enabled=True, map=halves())
    noise = job_noise(p)
    assert model_calls
    for x, level, _ in model_calls:
        expected = noised(p, sampler, noise, level)
        assert torch.equal(x[..., : SIZE // 16], expected[..., : SIZE // 16]), float(level.flatten()[0])
    assert torch.equal(latent[..., : SIZE // 16], p.init_latent[..., : SIZE // 16])
    assert not torch.equal(latent[..., SIZE // 16 :], p.init_latent[..., SIZE // 16 :])


@pytest.mark.parametrize("sampler", ALL)
def test_sd3_each_gray_level_is_released_at_its_step(webui, sampler, model_calls):
    """A band of change c is held (the original noised exactly) until position N(1 - c) and injected
    once more at the first evaluation after it; then the sampler has it."""
    options = dict(model=SD3, sampler=sampler, steps=STEPS, denoising_strength=DENOISING, enabled=True, map=banded_map())
    _, _, p = final_latent(webui, **options, release="stepped")  # the stepped rule's release points
    schedule, space, _ = job_schedule(p, A1111)
    steps = schedule.steps
    assert steps == (4 if sampler in TIMESTEP else 5)
    noise = job_noise(p)
    last_held = {}
    sigmas = [(space.sigma(level) if space is not None else level).flatten()[:1] for _, level, _ in model_calls]
    positions = [float(schedule.position(sigma)) for sigma in sigmas]
    for index, ((x, level, _), position, window_start) in enumerate(zip(model_calls, positions, evaluation_windows(positions))):
        expected = noised(p, sampler, noise, level)
        for band, change in enumerate(BANDS):
            columns = slice(2 * band, 2 * band + 2)
            held = torch.equal(x[..., columns], expected[..., columns])
            release = steps * (1 - change)
            if window_start < release - 1e-3:  # held, or released since the window's start
                assert held, (sampler, index, position, change)
                last_held[change] = index
            elif window_start > release + 1e-3:
                assert not held, (sampler, index, position, change)
    if sampler in ONE_EVALUATION_PER_STEP:
        # the last step a band is injected at is the last one before release + 1 (where a release
        # falls between steps, as 0.2 of 4 steps does, that is the last step itself)
        last = [max(k for k in range(steps) if k < steps * (1 - change) + 1 - 1e-3) for change in BANDS]
        assert [last_held[change] for change in BANDS] == last
        if sampler not in TIMESTEP:  # 5 steps: a band of change c takes part in exactly c N of them
            assert [steps - last_held[change] for change in BANDS] == [round(change * steps) for change in BANDS]


@pytest.mark.parametrize("sampler", K_DIFFUSION)
def test_sd3_change_grows_with_strength(webui, sampler):
    """Mean change from the original per strength, over two seeds and every placement of the bands
    (so the picture's content does not decide the order), rises with the strength."""
    per_strength = dict.fromkeys(BANDS, 0.0)
    for seed, shift in itertools.product((1, 2), range(len(BANDS))):
        settings = dict(seed=seed, steps=STEPS, denoising_strength=1.0, enabled=True, map=banded_map(shift))
        latent, _, p = final_latent(webui, model=SD3, sampler=sampler, **settings)
        difference = (latent - p.init_latent).abs().mean(dim=(0, 1, 2))
        for band, change in enumerate(band_order(shift)):
            per_strength[change] += float(difference[2 * band : 2 * band + 2].mean())
    values = [per_strength[change] for change in BANDS]
    # SD3's shift of 3 keeps the first steps at s > 0.85, where the original is all but gone, so a
    # region free for most of the steps is regenerated entirely: change saturates at the top (the
    # engine's flow tests show the same), it never falls.
    assert values[0] < values[1] and all(b > 0.97 * a for a, b in zip(values, values[1:])), values
    assert values[-1] > 1.1 * values[0], values


def test_sd3_infotext_is_as_for_the_other_families(webui):
    settings = dict(enabled=True, blur=2.5, strength=0.8, future_hinting=False)
    sd3 = processing.process_images(webui.job(model=SD3, map=gray(0.25), **settings)).infotexts[0]
    sd1 = processing.process_images(webui.job(model="sd1", map=gray(0.25), **settings)).infotexts[0]
    ours = lambda text: [entry for entry in text.split("\n")[-1].split(", ") if entry.startswith("DiffDiff")]  # noqa: E731
    assert ours(sd3) and ours(sd3) == ours(sd1)
