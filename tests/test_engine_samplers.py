"""The paper's claims and the user's expectations, checked on every sampler WebUI 1.10 lists."""

import functools
import itertools
import math

import pytest
import torch
from webui_sampling import SAMPLERS, img2img, unipc

from lib_diffdiff import Injector, ReleaseSchedule, TimestepSpace
from lib_diffdiff.params import Settings
from lib_diffdiff.reference import PosteriorMeanDenoiser, as_noise_predictor, builtin_images, linear_alphas_cumprod

LEVELS = (0.0, 0.25, 0.5, 0.75, 1.0)
HEIGHT, WIDTH, TILE = 10, 20, 5  # tiles straddle the level bands, so regions see each other
STEPS = 16
ALPHAS = linear_alphas_cumprod()


def banded_change(shift: int = 0) -> torch.Tensor:
    """Five vertical bands of 4 latent columns, one per level, left to right (rotated by `shift` bands)."""
    levels = torch.tensor(LEVELS).roll(shift)
    return levels.repeat_interleave(WIDTH // len(LEVELS)).expand(HEIGHT, WIDTH).clone()


@pytest.fixture(scope="module")
def scene():
    bank = builtin_images(12, size=WIDTH, seed=3)[:, :, :HEIGHT, :]
    original = builtin_images(2, size=WIDTH, seed=11)[:, :, 6 : 6 + HEIGHT, :]
    noise = torch.randn(original.shape, generator=torch.Generator().manual_seed(7))
    return PosteriorMeanDenoiser(bank, tile=TILE, spread=0.3), original, noise


@functools.cache
def unconditional():
    """DDIM CFG++'s unconditional noise prediction: a second weight-free model, over other images and
    wider, so guidance toward the scene's own model is not a no-op (the scene's model is the conditional)."""
    bank = builtin_images(12, size=WIDTH, seed=5)[:, :, :HEIGHT, :]
    return as_noise_predictor(PosteriorMeanDenoiser(bank, tile=TILE, spread=0.6), ALPHAS)


class Recorder:
    """Wraps the inner model: keeps each evaluation's input and level, and the injector's masks."""

    def __init__(self, model):
        self.model, self.inputs, self.levels, self.positions, self.injected = model, [], [], [], []

    def __call__(self, x, level, **kwargs):
        self.inputs.append(x.clone())
        self.levels.append(torch.as_tensor(level).flatten()[0].clone())
        return self.model(x, level, **kwargs)

    def observe(self, position, injected):
        self.positions.append(float(position.flatten()[0]))
        self.injected.append(injected.clone())


def run(name, scene, change=None, future_hinting=True, denoising=1.0, record=None):
    spec = SAMPLERS[name]
    denoiser, original, noise = scene
    model = as_noise_predictor(denoiser, ALPHAS) if spec.timestep else denoiser
    job = img2img(spec, original, noise, STEPS, denoising, unconditional=unconditional())
    if record is not None:
        record.model = model
        model = record
    if change is None:
        return job.run(model), None
    if spec.timestep:
        schedule, space = ReleaseSchedule.from_timesteps(job.step_levels, ALPHAS), TimestepSpace(ALPHAS)
    else:
        schedule, space = ReleaseSchedule(job.step_levels), None
    injector = Injector(
        original,
        noise,
        change,
        schedule,
        future_hinting=future_hinting,
        space=space,
        observer=record.observe if record is not None else None,
    )
    if spec.function is unipc:  # UniPC's corrected state is never a model input: inject it after each update
        return job.run(injector.wrap(model), callback=state_injection(injector, job.step_levels)), injector
    return job.run(injector.wrap(model)), injector


def state_injection(injector, levels):
    """A sampler callback that injects the state an update produced, at the level it has reached."""

    def callback(d):
        if d["i"] + 1 < len(levels):
            injector.inject_state_(d["x"], levels[d["i"] + 1])

    return callback


ALL = sorted(SAMPLERS)


def test_disabled_settings_build_no_injector(scene):
    """A disabled job gets no injector, so its caller runs the sampler untouched (compared with a WebUI
    that never loaded the extension in tests/webui/test_webui_disabled.py)."""
    _, original, noise = scene
    schedule = ReleaseSchedule(torch.ones(1))  # never consulted when disabled
    assert Settings(enabled=False).injector(original, noise, torch.ones(HEIGHT, WIDTH), schedule) is None
    hinted = Settings(enabled=True, future_hinting=False).injector(original, noise, torch.ones(HEIGHT, WIDTH), schedule)
    assert isinstance(hinted, Injector) and not hinted.future_hinting


@pytest.mark.parametrize("name", ALL)
def test_all_change_map_is_plain_img2img_bit_for_bit(name, scene):
    plain, _ = run(name, scene)
    ours, _ = run(name, scene, change=torch.ones(HEIGHT, WIDTH))
    assert torch.equal(plain, ours)


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("denoising", [1.0, 0.6])
def test_all_keep_map_returns_the_original_latent(name, denoising, scene):
    _, original, _ = scene
    final, injector = run(name, scene, change=torch.zeros(HEIGHT, WIDTH), denoising=denoising)
    result = injector.finish(final)
    assert ((result - original).norm() / original.norm()) < 1e-5


ONE_EVALUATION_PER_STEP = ("Euler", "Euler a", "LMS", "DPM++ 2M", "DPM++ 2M SDE", "DPM++ 3M SDE", "LCM", "DDIM", "DDIM CFG++", "UniPC")


def expected_injection(level, position, steps, future_hinting):
    """The paper's rule restated: held until step N(1 - c), injected once more within a step after it.

    Returns None where the position is too close to a boundary for float positions to decide."""
    release = steps * (1 - level)
    if release <= 0:
        return False
    if min(abs(position - release), abs(position - release - 1)) < 1e-3:
        return None
    after_release = release <= position < release + 1
    return after_release or (future_hinting and position < release)


def check_masks(record, change, steps, future_hinting):
    bands = [change[0] == level for level in LEVELS]
    for position, mask in zip(record.positions, record.injected):
        for level, band in zip(LEVELS, bands):
            values = mask[0, 0, :, band]
            assert values.all() or not values.any(), "a band of one level must be injected as a whole"
            expected = expected_injection(level, position, steps, future_hinting)
            if expected is not None:
                assert bool(values.all()) == expected, (position, level)


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("denoising", [1.0, 0.5])
def test_each_level_is_released_when_its_strength_says(name, denoising, scene):
    """Strengths are shares of the steps img2img actually runs after truncation by denoising strength."""
    _, original, noise = scene
    record = Recorder(None)
    change = banded_change()
    final, injector = run(name, scene, change=change, record=record, denoising=denoising)
    steps = injector.schedule.steps
    check_masks(record, change, steps, future_hinting=True)
    # evaluations at schedule points sit at the integer position of their step
    for level_value, position in zip(record.levels, record.positions):
        sigma = injector.space.sigma(level_value.reshape(1))[0]
        exact = (injector.schedule.sigmas == sigma).nonzero()
        if len(exact):
            assert position == float(exact[0, 0])
    # injected pixels saw the original noised to the evaluation's level, exactly
    for seen, level_value, mask in zip(record.inputs, record.levels, record.injected):
        expected = torch.empty_like(original)
        injector.space.noise_into(expected, original, noise, level_value.reshape(1))
        held = mask.expand_as(seen)
        assert torch.equal(seen[held], expected[held])
    # a pixel takes part in the steps from its last injection on: a share c of them, growing with c
    evaluations = len(record.injected)
    taken_part = []
    for level in LEVELS:
        column = int((change[0] == level).nonzero()[0, 0])
        if injector.never_released[0, 0, 0, column]:
            taken_part.append(0)
            continue
        last = max([i for i, mask in enumerate(record.injected) if mask[0, 0, 0, column]], default=0)
        taken_part.append(evaluations - last)
    assert taken_part == sorted(taken_part) and taken_part[0] == 0 and taken_part[-1] == evaluations
    if name in ONE_EVALUATION_PER_STEP:
        assert taken_part == [math.floor(level * steps + 1e-6) for level in LEVELS]
        assert injector.schedule.free_steps(torch.tensor(LEVELS)).tolist() == taken_part


@pytest.mark.parametrize("name", ALL)
def test_change_from_the_original_grows_with_strength(name, scene):
    """Averaged over every placement of the levels, so image content does not decide the order."""
    denoiser, original, _ = scene
    per_level = torch.zeros(len(LEVELS))
    for seed, shift in itertools.product(range(3), range(len(LEVELS))):
        noise = torch.randn(original.shape, generator=torch.Generator().manual_seed(100 + seed))
        change = banded_change(shift)
        final, injector = run(name, (denoiser, original, noise), change=change)
        difference = (injector.finish(final) - original).abs().mean(dim=(0, 1, 2))  # per column
        for i, level in enumerate(LEVELS):
            per_level[i] += difference[change[0] == level].mean()
    assert per_level[0] == 0.0
    if name == "LCM":
        # LCM jumps to the prediction and renoises with fresh noise at every step, so a few free
        # steps regenerate a region entirely: from 3/4 of the steps on, change saturates.
        assert per_level[4] > 0.9 * per_level[3]
        per_level = per_level[:4]
    assert all(a < b for a, b in zip(per_level, per_level[1:])), per_level.tolist()


@pytest.mark.parametrize("name", ALL)
def test_without_future_hinting_each_region_is_injected_only_at_its_release(name, scene):
    record = Recorder(None)
    change = banded_change()
    final, injector = run(name, scene, change=change, future_hinting=False, record=record)
    check_masks(record, change, injector.schedule.steps, future_hinting=False)
    for position, mask in zip(record.positions, record.injected):
        assert (injector.release.expand_as(mask)[mask] <= position).all(), "injected before its release"
    if name in ONE_EVALUATION_PER_STEP:
        counts = torch.stack(record.injected).sum(0)[0, 0, 0]
        for level in LEVELS:
            expected = 1 if 0 < level * injector.schedule.steps < injector.schedule.steps else 0
            assert (counts[change[0] == level] == expected).all(), (level, counts)
    hinted, hinted_injector = run(name, scene, change=change, future_hinting=True)
    assert not torch.equal(injector.finish(final), hinted_injector.finish(hinted))
