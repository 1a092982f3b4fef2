"""The paper's claims and the user's expectations, checked on every sampler WebUI 1.10 lists."""

import functools
import itertools
import math

import pytest
import torch
from webui_sampling import SAMPLERS, img2img, unipc

from lib_diffdiff import Injector, ReleaseSchedule, TimestepSpace
from lib_diffdiff.injection import CONTINUOUS, RELEASE_RULES, STEPPED
from lib_diffdiff.params import Settings
from lib_diffdiff.lab.reference import PosteriorMeanDenoiser, as_noise_predictor, builtin_images, linear_alphas_cumprod

LEVELS = (0.0, 0.25, 0.5, 0.75, 1.0)
HEIGHT, WIDTH, TILE = 10, 20, 5  # tiles straddle the level bands, so regions see each other
STEPS = 16
ALPHAS = linear_alphas_cumprod()


def banded_change(shift: int = 0, levels=LEVELS, width: int = WIDTH, height: int = HEIGHT) -> torch.Tensor:
    """Vertical bands of equal width, one per level, left to right (rotated by `shift` bands)."""
    levels = torch.tensor(levels).roll(shift)
    return levels.repeat_interleave(width // len(levels)).expand(height, width).clone()


def change_per_level(run_job, original, levels=LEVELS, width=WIDTH, noises=3, first_seed=100):
    """Each level's mean change from the original, summed over `noises` noises and every placement of
    the level bands, so image content does not decide the order. `run_job(noise, change)` returns
    the sampler's final latent and its injector."""
    per_level = torch.zeros(len(levels))
    for seed, shift in itertools.product(range(noises), range(len(levels))):
        noise = torch.randn(original.shape, generator=torch.Generator().manual_seed(first_seed + seed))
        change = banded_change(shift, levels, width)
        final, injector = run_job(noise, change)
        difference = (injector.finish(final) - original).abs().mean(dim=(0, 1, 2))  # per column
        for i, level in enumerate(levels):
            per_level[i] += difference[change[0] == level].mean()
    return per_level


@pytest.fixture(scope="module")
def scene():
    bank = builtin_images(12, size=WIDTH, seed=3)[:, :, :HEIGHT, :]
    original = builtin_images(2, size=WIDTH, seed=11)[:, :, 6 : 6 + HEIGHT, :]
    noise = torch.randn(original.shape, generator=torch.Generator().manual_seed(7))
    return PosteriorMeanDenoiser(bank, tile=TILE, spread=0.3), original, noise


@functools.cache
def unconditional(height=HEIGHT, width=WIDTH):
    """DDIM CFG++'s unconditional noise prediction: a second weight-free model, over other images and
    wider, so guidance toward the scene's own model is not a no-op (the scene's model is the conditional)."""
    bank = builtin_images(12, size=width, seed=5)[:, :, :height, :]
    return as_noise_predictor(PosteriorMeanDenoiser(bank, tile=TILE, spread=0.6), ALPHAS)


class Recorder:
    """Wraps the inner model: keeps each evaluation's input and level, and the injector's weights
    (`injected`: where a pixel was overwritten entirely)."""

    def __init__(self, model):
        self.model, self.inputs, self.levels, self.positions, self.weights, self.injected = model, [], [], [], [], []

    def __call__(self, x, level, **kwargs):
        self.inputs.append(x.clone())
        self.levels.append(torch.as_tensor(level).flatten()[0].clone())
        return self.model(x, level, **kwargs)

    def observe(self, position, weight):
        self.positions.append(float(position.flatten()[0]))
        self.weights.append(weight.clone())
        self.injected.append(weight == 1)


def run(name, scene, change=None, future_hinting=True, denoising=1.0, record=None, release_rule=CONTINUOUS, steps=STEPS):
    spec = SAMPLERS[name]
    denoiser, original, noise = scene
    model = as_noise_predictor(denoiser, ALPHAS) if spec.timestep else denoiser
    job = img2img(spec, original, noise, steps, denoising, unconditional=unconditional(*original.shape[-2:]))
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
        release_rule=release_rule,
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
@pytest.mark.parametrize("release_rule", RELEASE_RULES)
def test_all_change_map_is_plain_img2img_bit_for_bit(name, release_rule, scene):
    plain, _ = run(name, scene)
    ours, injector = run(name, scene, change=torch.ones(HEIGHT, WIDTH), release_rule=release_rule)
    assert torch.equal(plain, ours) and torch.equal(injector.finish(ours), ours)


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("denoising", [1.0, 0.6])
@pytest.mark.parametrize("release_rule", RELEASE_RULES)
def test_all_keep_map_returns_the_original_latent(name, denoising, release_rule, scene):
    _, original, _ = scene
    final, injector = run(name, scene, change=torch.zeros(HEIGHT, WIDTH), denoising=denoising, release_rule=release_rule)
    result = injector.finish(final)
    assert torch.equal(result, original)


ONE_EVALUATION_PER_STEP = ("Euler", "Euler a", "LMS", "DPM++ 2M", "DPM++ 2M SDE", "DPM++ 3M SDE", "LCM", "DDIM", "DDIM CFG++", "UniPC")


def evaluation_windows(positions):
    """Each evaluation's window start: the position of the evaluation before it, or that one's own
    window start where both share a position (Heun's corrector and its next step); a step back for the
    first evaluation and where the sampler went back (a midpoint past the next step, a restart)."""
    starts = []
    for i, position in enumerate(positions):
        if i and abs(position - positions[i - 1]) < 1e-3:  # ancestral midpoints lie at the next step, up to rounding
            starts.append(starts[-1])
        elif i == 0 or position < positions[i - 1]:
            starts.append(position - 1)
        else:
            starts.append(max(positions[i - 1], position - 1))
    return starts


def expected_injection(level, position, window_start, steps, future_hinting):
    """The paper's rule restated: held until step N(1 - c), injected once more at the first evaluation
    at or after it.

    Returns None where the position is too close to a boundary for float positions to decide."""
    release = steps * (1 - level)
    if release <= 0:
        return False
    if min(abs(position - release), abs(window_start - release)) < 1e-3:
        return None
    released_in_window = window_start < release <= position
    return released_in_window or (future_hinting and position < release)


def check_masks(record, change, steps, future_hinting):
    bands = [change[0] == level for level in LEVELS]
    windows = evaluation_windows(record.positions)
    for position, window_start, mask in zip(record.positions, windows, record.injected):
        for level, band in zip(LEVELS, bands):
            values = mask[0, 0, :, band]
            assert values.all() or not values.any(), "a band of one level must be injected as a whole"
            expected = expected_injection(level, position, window_start, steps, future_hinting)
            if expected is not None:
                assert bool(values.all()) == expected, (position, level)


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("denoising", [1.0, 0.5])
def test_each_level_is_released_when_its_strength_says(name, denoising, scene):
    """Strengths are shares of the steps img2img actually runs after truncation by denoising strength
    (the stepped rule; its levels lie on step boundaries, where the continuous rule gives the same)."""
    _, original, noise = scene
    record = Recorder(None)
    change = banded_change()
    final, injector = run(name, scene, change=change, record=record, denoising=denoising, release_rule=STEPPED)
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
    per_level = change_per_level(lambda noise, change: run(name, (denoiser, original, noise), change=change), original)
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
    final, injector = run(name, scene, change=change, future_hinting=False, record=record, release_rule=STEPPED)
    check_masks(record, change, injector.schedule.steps, future_hinting=False)
    for position, mask in zip(record.positions, record.injected):
        assert (injector.release.expand_as(mask)[mask] <= position).all(), "injected before its release"
    if name in ONE_EVALUATION_PER_STEP:
        counts = torch.stack(record.injected).sum(0)[0, 0, 0]
        for level in LEVELS:
            expected = 1 if 0 < level * injector.schedule.steps < injector.schedule.steps else 0
            assert (counts[change[0] == level] == expected).all(), (level, counts)
    hinted, hinted_injector = run(name, scene, change=change, future_hinting=True, release_rule=STEPPED)
    assert not torch.equal(injector.finish(final), hinted_injector.finish(hinted))


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("denoising", [1.0, 0.5])
@pytest.mark.parametrize("future_hinting", [True, False])
def test_strengths_on_step_boundaries_give_the_stepped_result_exactly(name, denoising, future_hinting, scene):
    _, probe = run(name, scene, change=banded_change(), denoising=denoising)
    steps = probe.schedule.steps  # DDIM can run a step more than asked
    boundaries = [round(level * steps) / steps for level in LEVELS]
    stepped_record, continuous_record = Recorder(None), Recorder(None)
    options = dict(change=banded_change(levels=boundaries), denoising=denoising, future_hinting=future_hinting)
    stepped, stepped_injector = run(name, scene, record=stepped_record, release_rule=STEPPED, **options)
    continuous, continuous_injector = run(name, scene, record=continuous_record, **options)
    assert torch.equal(stepped_injector.finish(stepped), continuous_injector.finish(continuous))
    assert all(torch.equal(a, b) for a, b in zip(stepped_record.weights, continuous_record.weights))


FRACTIONAL_LEVELS = (0.0, 0.03, 0.4, 0.7, 1.0)  # c * N = 0.48, 6.4, 11.2 of 16 steps; 0.24, 3.2, 5.6 of 8


def expected_weight(level, position, window_start, steps, future_hinting):
    """The continuous rule restated: the stepped rule at the step boundary k >= N(1 - c) and at the one
    before it, mixed by the share of a step k - N(1 - c) the pixel is owed. None where floats decide."""
    exact = steps * (1 - level)
    boundary = math.ceil(exact - 1e-6)
    share = max(boundary - exact, 0.0)
    decisions = []
    for release in (boundary, boundary - 1):
        if release <= 0:
            decisions.append(False)
        elif any(abs(at - release) < 1e-3 and at != release for at in (position, window_start)):
            return None
        else:
            decisions.append(window_start < release <= position or (future_hinting and position < release))
    return (1 - share) * decisions[0] + share * decisions[1]


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("denoising", [1.0, 0.5])
@pytest.mark.parametrize("future_hinting", [True, False])
def test_continuous_rule_gives_each_level_its_fraction_of_a_step(name, denoising, future_hinting, scene):
    """Blend weights as the rule says at every evaluation; with one evaluation per step, a pixel
    takes part in c * N steps exactly (the stepped rule: floor(c * N))."""
    _, original, noise = scene
    change = banded_change(levels=FRACTIONAL_LEVELS)
    shares = {}
    for rule in RELEASE_RULES:
        record = Recorder(None)
        options = dict(change=change, denoising=denoising, future_hinting=future_hinting, record=record, release_rule=rule)
        final, injector = run(name, scene, **options)
        steps = injector.schedule.steps
        bands = [change[0] == level for level in FRACTIONAL_LEVELS]
        for position, window_start, weight in zip(record.positions, evaluation_windows(record.positions), record.weights):
            for level, band in zip(FRACTIONAL_LEVELS, bands):
                values = weight[0, 0, :, band]
                assert (values == values.flatten()[0]).all(), "a band of one level must be weighted as a whole"
                expected = expected_weight(level, position, window_start, steps, future_hinting) if rule == CONTINUOUS else None
                if expected is not None:
                    assert float(values.flatten()[0]) == pytest.approx(expected, abs=1e-5), (position, level)
        # what the sampler saw is the blend of its own latent and the original noised to the level
        for seen, level_value, weight in zip(record.inputs, record.levels, record.weights):
            expected = torch.empty_like(original)
            injector.space.noise_into(expected, original, noise, level_value.reshape(1))
            held = (weight == 1).expand_as(seen)
            assert torch.equal(seen[held], expected[held])
        final = injector.weight(torch.tensor(float(steps)).reshape(1, 1, 1, 1)).expand_as(record.weights[0])  # `finish`
        ends = torch.stack(record.weights[1:] + [final])
        shares[rule] = [float((1 - ends[:, 0, 0, 0, band]).sum(0)[0]) for band in bands]  # free share at each step's end
    if name in ONE_EVALUATION_PER_STEP and future_hinting:
        assert shares[CONTINUOUS] == pytest.approx([level * steps for level in FRACTIONAL_LEVELS], abs=1e-4)
        assert shares[STEPPED] == [math.floor(level * steps) for level in FRACTIONAL_LEVELS]


FEW_STEPS, FINE_LEVELS, FINE_WIDTH = 4, tuple(i / 15 for i in range(16)), 80


@pytest.fixture(scope="module")
def fine_scene():
    """An 80-column latent: five columns per level of FINE_LEVELS, tiles straddling the bands."""
    bank = builtin_images(12, size=FINE_WIDTH, seed=3)[:, :, :HEIGHT, :]
    original = builtin_images(2, size=FINE_WIDTH, seed=11)[:, :, 6 : 6 + HEIGHT, :]
    return PosteriorMeanDenoiser(bank, tile=TILE, spread=0.3), original


# Known gaps at few steps, kept visible: each fails the strict growth somewhere (strict xfails, so a
# change that mends one must say so). Per level, summed over placements and noises.
FEW_STEP_GAPS = {
    # The paper's stepped rule itself changes a 3/4 band more than a full-change one on this scene
    # (test_dpm_fast_changes_less_at_full_strength_under_the_papers_rule), and the continuous rule
    # must equal it on step boundaries and equal plain img2img at 1: it cannot grow over (3/4, 1].
    (4, "DPM fast"): "the stepped rule it must meet on boundaries falls from 3/4 to 1",
    # Change sags once inside a step (levels 8/15 -> 9/15: 0.32 -> 0.30, also over 6 noises). Cause,
    # established: the partial blend of its latent (mostly fresh noise) with the injected one (the
    # job's noise) has less noise than its level; adding the missing sqrt(2w(1 - w)) sigma of
    # independent noise removes the sag (0.334 -> 0.343). Not shipped: it needs a second noise
    # source and, per sampler, how much of the latent's noise is fresh (Euler's is none). DPM++ 2M SDE
    # has the same dip just past a boundary (strengths 1/2 -> 9/16 on 16-column bands: 0.176 -> 0.160)
    # but not at this test's levels.
    (4, "DPM++ 3M SDE"): "change sags once inside a step",
    # At 2 and 3 steps the samplers' own few-step behaviour shows: a full-change band changes no more,
    # or less, than one released a step later, so the top levels cannot keep growing.
    (2, "DPM fast"): "its two solver steps change 8/15 (172) more than 9/15 (170)",
    (2, "DPM2"): "a full-change band (23.62) changes no more than 14/15 (23.66)",
    (3, "DPM fast"): "levels 5/15 to 10/15 change alike (8.34): its evaluations skip the step they share",
    (3, "DPM2 a"): "a full-change band (34.67) changes no more than 14/15 (34.70)",
    (3, "UniPC"): "change peaks at 8/15 (24.1) and a full-change band changes less (23.8)",
    # The SDE samplers' sag past a boundary (above), large at 3 steps: 2/3 -> 11/15 falls by a tenth.
    (3, "DPM++ 2M SDE"): "change sags just past the 2/3 boundary (12.2 -> 11.0)",
    (3, "DPM++ 2M SDE Heun"): "change sags just past the 2/3 boundary",
    (3, "DPM++ 3M SDE"): "change sags just past the 2/3 boundary (15.35 -> 15.22)",
}
# img2img cannot run these on one step, with or without a map: WebUI gives timestep samplers
# int(0.999 * steps) = 0 timesteps, and k-diffusion's SDE samplers fail on a one-step schedule.
CANNOT_RUN_ONE_STEP = ("DDIM", "DDIM CFG++", "PLMS", "UniPC", "DPM++ 2M SDE", "DPM++ 2M SDE Heun", "DPM++ 3M SDE")


def test_dpm_fast_changes_less_at_full_strength_under_the_papers_rule(fine_scene):
    """Why DPM fast is a known gap: at 4 steps its four evaluations (two solver steps, the last at
    position 2.1 of 4) change a band of strength 3/4 more than a band of 1 under the stepped rule."""
    denoiser, original = fine_scene

    def run_job(noise, change):
        return run("DPM fast", (denoiser, original, noise), change=change, steps=FEW_STEPS, release_rule=STEPPED)

    per_level = change_per_level(run_job, original, (0.0, 0.25, 0.5, 0.75, 1.0), FINE_WIDTH, first_seed=200)
    assert per_level[3] > 1.2 * per_level[4], per_level.tolist()


def few_step_cases():
    for steps, name in itertools.product((1, 2, 3, FEW_STEPS), ALL):
        if steps == 1 and name in CANNOT_RUN_ONE_STEP:
            continue
        gap = FEW_STEP_GAPS.get((steps, name))
        yield pytest.param(steps, name, marks=[pytest.mark.xfail(strict=True, reason=gap)] if gap else [], id=f"{steps}-{name}")


@pytest.mark.parametrize("steps, name", few_step_cases())
def test_at_few_steps_sixteen_levels_change_more_from_level_to_level(steps, name, fine_scene):
    """The continuous rule's promise: change grows strictly with strength even at 1 to 4 steps, where the
    stepped rule gives only N + 1 distinct levels. Averaged over every placement of the levels and 3 noises."""
    denoiser, original = fine_scene

    def run_job(noise, change):
        return run(name, (denoiser, original, noise), change=change, steps=steps)

    per_level = change_per_level(run_job, original, FINE_LEVELS, FINE_WIDTH, first_seed=200)
    assert per_level[0] == 0 and (per_level.diff() > 0).all(), per_level.tolist()


@pytest.mark.parametrize("name", CANNOT_RUN_ONE_STEP)
def test_samplers_left_out_at_one_step_cannot_run_it_without_a_map_either(name, scene):
    with pytest.raises((IndexError, UnboundLocalError)):
        run(name, scene, steps=1)
