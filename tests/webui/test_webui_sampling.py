"""The engine's invariants end to end through the script, the stand-in's processing and its samplers."""

import pytest
import torch
from conftest import SIZE, gray
from modules import processing, sd_samplers_cfg_denoiser, sd_schedulers, shared
from PIL import Image
from tiny_models import KINDS, TinyLatentDiffusion
from webui_sampling import SAMPLERS

from diffdiff_webui.job import ATTRIBUTE
from lib_diffdiff import SigmaSpace, TimestepSpace
from lib_diffdiff.params import Settings

ALL = sorted(SAMPLERS)
TIMESTEP = {name for name, spec in SAMPLERS.items() if spec.timestep}


def halves() -> Image.Image:
    """White (keep) on the left half, black (full change) on the right: latent columns 0-3 and 4-7."""
    image = Image.new("L", (SIZE, SIZE), 0)
    image.paste(255, (0, 0, SIZE // 2, SIZE))
    return image


def final_latent(webui, **kwargs):
    p = webui.job(**kwargs)
    model = shared.sd_model
    result = processing.process_images(p)
    return torch.cat(model.decoded), result, p


@pytest.fixture
def model_calls(monkeypatch):
    """Every CFG-denoiser call as the sampler made it (after the script's hook): (x, level) copies."""
    calls = []
    forward = sd_samplers_cfg_denoiser.CFGDenoiser.forward

    def recording(self, x, sigma, **kwargs):
        calls.append((x.clone(), sigma.clone(), kwargs["image_cond"].clone()))
        return forward(self, x, sigma, **kwargs)

    monkeypatch.setattr(sd_samplers_cfg_denoiser.CFGDenoiser, "forward", recording)
    return calls


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("sampler", ALL)
def test_all_change_map_is_plain_img2img_bit_for_bit(webui, sampler, kind):
    plain, plain_result, _ = final_latent(webui, model=kind, sampler=sampler)
    ours, our_result, _ = final_latent(webui, model=kind, sampler=sampler, enabled=True, map=gray(0.0))
    assert torch.equal(plain, ours)
    assert plain_result.images[0].tobytes() == our_result.images[0].tobytes()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("sampler", ALL)
@pytest.mark.parametrize("denoising", [1.0, 0.5])
def test_all_keep_map_returns_the_original_latent_exactly(webui, sampler, kind, denoising):
    latent, _, p = final_latent(webui, model=kind, sampler=sampler, denoising_strength=denoising, enabled=True, map=gray(1.0))
    assert torch.equal(latent, p.init_latent)


def expected_injection(p, sampler, noise, level):
    expected = torch.empty_like(p.init_latent)
    space = TimestepSpace(shared.sd_model.alphas_cumprod) if sampler in TIMESTEP else SigmaSpace()
    space.noise_into(expected, p.init_latent, noise, level)
    return expected


def check_held_half(p, sampler, calls, batches):
    """Every call saw the kept half exactly as the original noised to its level, with the batch's own noise."""
    per_batch = len(calls) // len(batches)
    assert per_batch > 0 and len(calls) == per_batch * len(batches)
    for index, (x, level, _) in enumerate(calls):
        noise = batches[index // per_batch]
        expected = expected_injection(p, sampler, noise, level)
        assert torch.equal(x[..., : SIZE // 16], expected[..., : SIZE // 16]), (index, level)


@pytest.mark.parametrize("sampler", ALL)
def test_kept_pixels_see_the_original_noised_with_the_jobs_own_noise_and_schedule(webui, sampler, model_calls):
    _, _, p = final_latent(webui, sampler=sampler, enabled=True, map=halves())
    noise = processing.ImageRNG(p.init_latent.shape[1:], p.all_seeds).next()
    check_held_half(p, sampler, model_calls, [noise])
    changed = p.init_latent[..., SIZE // 16 :]
    assert not torch.equal(shared.sd_model.decoded[0][..., SIZE // 16 :], changed)


def test_unipc_state_holds_the_original_after_every_update(webui, callback_states):
    """UniPC's corrected latent never reaches the model; the script injects it in the sampler's callback."""
    states = callback_states
    _, _, p = final_latent(webui, sampler="UniPC", enabled=True, map=halves())
    noise = processing.ImageRNG(p.init_latent.shape[1:], p.all_seeds).next()
    levels = getattr(p, ATTRIBUTE).state_levels
    assert len(states) == len(levels) and "callback_state" not in vars(p.sampler)  # hook taken off at the end
    for i, x in states[:-1]:  # the last update is the final latent: `finish` handles it
        expected = expected_injection(p, "UniPC", noise, levels[i + 1])
        assert torch.equal(x[..., : SIZE // 16], expected[..., : SIZE // 16]), i


@pytest.mark.parametrize("sampler", ["Euler a", "DDIM"])
def test_batch_size_and_batch_count_each_batch_uses_its_own_noise(webui, sampler, model_calls):
    latent, result, p = final_latent(webui, sampler=sampler, batch_size=2, n_iter=2, enabled=True, map=halves())
    batches = [processing.ImageRNG(p.init_latent.shape[1:], p.all_seeds[n * 2 : n * 2 + 2]).next() for n in range(2)]
    assert not torch.equal(batches[0], batches[1])
    check_held_half(p, sampler, model_calls, batches)
    assert len(result.images) == 4
    assert torch.equal(latent[..., : SIZE // 16], p.init_latent.repeat(2, 1, 1, 1)[..., : SIZE // 16])


@pytest.mark.parametrize("scheduler", [s.label for s in sd_schedulers.schedulers])
def test_every_schedule_type(webui, scheduler, model_calls):
    plain, _, _ = final_latent(webui, sampler="Euler", scheduler=scheduler)
    ours, _, _ = final_latent(webui, sampler="Euler", scheduler=scheduler, enabled=True, map=gray(0.0))
    assert torch.equal(plain, ours)
    model_calls.clear()
    latent, _, p = final_latent(webui, sampler="Euler", scheduler=scheduler, enabled=True, map=halves())
    noise = processing.ImageRNG(p.init_latent.shape[1:], p.all_seeds).next()
    check_held_half(p, "Euler", model_calls, [noise])
    assert torch.equal(latent[..., : SIZE // 16], p.init_latent[..., : SIZE // 16])


@pytest.mark.parametrize("sampler", ["Euler", "DPM++ 2M", "DDIM"])
def test_inpainting_checkpoint_conditioning_follows_the_released_pixels(webui, sampler, model_calls):
    _, _, p = final_latent(webui, model="sd1-inpainting", sampler=sampler, enabled=True, map=halves(), denoising_strength=1.0)
    for _, _, image_cond in model_calls:
        mask, latent = image_cond[:, :1], image_cond[:, 1:]
        assert (mask[..., :4] == 0).all(), "kept pixels are known to the model"
        assert torch.equal(latent[..., :4], p.init_latent[..., :4])
        assert (mask[..., 4:] == 1).all(), "fully changed pixels are to be painted at every step"
    # a half-strength map is known for the first half of the steps, then to be painted
    model_calls.clear()
    final_latent(webui, model="sd1-inpainting", sampler=sampler, enabled=True, map=gray(0.5), denoising_strength=1.0)
    released = [bool(image_cond[0, 0].all()) for _, _, image_cond in model_calls]
    assert released[0] is False and released[-1] is True and released == sorted(released)


def test_sdxl_and_v_prediction_models_get_the_same_injection(webui, model_calls):
    for kind in ("sd2-v", "sdxl"):
        model_calls.clear()
        _, _, p = final_latent(webui, model=TinyLatentDiffusion(kind), sampler="DPM++ 2M", enabled=True, map=halves())
        noise = processing.ImageRNG(p.init_latent.shape[1:], p.all_seeds).next()
        check_held_half(p, "DPM++ 2M", model_calls, [noise])


@pytest.mark.parametrize("sampler", ALL)
def test_release_rules_agree_on_step_boundaries_and_differ_between_them(webui, sampler, monkeypatch):
    """The `release` setting reaches the job: a map of strength 2/N gives the stepped result bit for bit
    under the continuous rule; strength 2.5/N gets half a step more than the stepped rule gives it."""
    injectors = []
    build = Settings.injector

    def recording(self, *args, **kwargs):
        injectors.append(build(self, *args, **kwargs))
        return injectors[-1]

    monkeypatch.setattr(Settings, "injector", recording)
    final_latent(webui, sampler=sampler, enabled=True, map=gray(0.5))
    steps = injectors[-1].schedule.steps  # the steps the denoising strength leaves, on the sampler's own grid
    maps = {"boundary": torch.full((SIZE, SIZE), 1 - 2 / steps), "between": torch.full((SIZE, SIZE), 1 - 2.5 / steps)}  # white keeps
    latents = {
        (rule, where): final_latent(webui, sampler=sampler, enabled=True, map=change, release=rule)[0]
        for rule in ("continuous", "stepped")
        for where, change in maps.items()
    }
    assert [injector.release_rule for injector in injectors[1:]] == ["continuous", "continuous", "stepped", "stepped"]
    assert torch.equal(latents["continuous", "boundary"], latents["stepped", "boundary"])
    assert not torch.equal(latents["continuous", "between"], latents["stepped", "between"])
