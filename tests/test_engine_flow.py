"""Rectified-flow models (SD3, Flux) on the k-diffusion samplers: x = (1 - s) x0 + s n, s in (0, 1].

The model is the analytic posterior mean of the engine tests' data under flow noising, called as
k-diffusion samplers call SD3: with sigma = s, returning the predicted x0.
"""


import k_diffusion.external
import k_diffusion.sampling as ks
import pytest
import torch
from test_engine_samplers import HEIGHT, LEVELS, ONE_EVALUATION_PER_STEP, STEPS, TILE, WIDTH, Recorder, banded_change, change_per_level, check_masks
from webui_sampling import SAMPLERS, schedule_keywords

from lib_diffdiff import FlowSpace, Injector, ReleaseSchedule
from lib_diffdiff.injection import CONTINUOUS, STEPPED
from lib_diffdiff.lab.reference import PosteriorMeanDenoiser, as_flow_denoiser, builtin_images, shifted_flow_sigmas

FLOW_SAMPLERS = sorted(name for name, spec in SAMPLERS.items() if not spec.timestep)
SCHEDULE = k_diffusion.external.DiscreteSchedule(shifted_flow_sigmas(3.0), quantize=False)


@pytest.fixture(scope="module")
def scene():
    bank = builtin_images(12, size=WIDTH, seed=3)[:, :, :HEIGHT, :]
    original = builtin_images(2, size=WIDTH, seed=11)[:, :, 6 : 6 + HEIGHT, :]
    noise = torch.randn(original.shape, generator=torch.Generator().manual_seed(7))
    return as_flow_denoiser(PosteriorMeanDenoiser(bank, tile=TILE, spread=0.3)), original, noise


def flow_sigmas(spec, steps):
    """The sampler's schedule over the flow model's sigmas (at most 1), as the WebUI builds it for SD3."""
    discard = spec.options.get("discard_next_to_last_sigma", False)
    count = steps + 1 if discard else steps
    low, high = float(SCHEDULE.sigmas[0]), float(SCHEDULE.sigmas[-1])
    if spec.scheduler == "karras":
        sigmas = ks.get_sigmas_karras(count, low, high)
    elif spec.scheduler == "exponential":
        sigmas = ks.get_sigmas_exponential(count, low, high)
    else:
        sigmas = SCHEDULE.get_sigmas(count)
    return torch.cat([sigmas[:-2], sigmas[-1:]]) if discard else sigmas


def run(name, scene, change=None, denoising=1.0, record=None, release_rule=CONTINUOUS):
    spec = SAMPLERS[name]
    model, original, noise = scene
    t_enc = int(min(denoising, 0.999) * STEPS)
    sigma_sched = flow_sigmas(spec, STEPS)[STEPS - t_enc - 1 :]
    start = original * (1 - sigma_sched[0]) + noise * sigma_sched[0]
    kwargs = {k: v for k, v in spec.options.items() if k not in ("discard_next_to_last_sigma", "brownian_noise")}
    if spec.options.get("brownian_noise"):
        kwargs["noise_sampler"] = ks.BrownianTreeNoiseSampler(start, sigma_sched[-2], sigma_sched[0], seed=0)
    kwargs.update(schedule_keywords(spec.function, sigma_sched))
    if record is not None:
        record.model, model = model, record
    injector = None
    if change is not None:
        injector = Injector(
            original,
            noise,
            change,
            ReleaseSchedule(sigma_sched[:-1]),
            space=FlowSpace(),
            observer=record.observe if record is not None else None,
            release_rule=release_rule,
        )
        model = injector.wrap(model)
    torch.manual_seed(0)
    return spec.function(model, start.clone(), disable=True, **kwargs), injector


def test_flow_space_noises_as_the_models_do():
    original, noise = torch.randn(2, 16, 8, 8), torch.randn(2, 16, 8, 8)
    space, out = FlowSpace(), torch.empty(2, 16, 8, 8)
    for s in torch.linspace(0.01, 1.0, 30):
        space.noise_into(out, original, noise, s * torch.ones(2))
        assert torch.equal(out, original * (1 - s) + noise * s)  # SD3's add_noise_to_latent
        assert torch.equal(out, s * noise + (1.0 - s) * original)  # diffusers' scale_noise
    space.noise_into(out, original, noise, torch.tensor([1.0, 0.25]))
    assert torch.equal(out[0], noise[0]) and torch.equal(out[1], original[1] * 0.75 + noise[1] * 0.25)


def test_positions_of_flow_midpoints_follow_the_samplers_log_sigma_midpoints():
    """DPM++ 2S / DPM++ SDE / DPM2 evaluate between two levels at the geometric mean (half way in
    log sigma); Heun evaluates at the next level itself. Flow sigmas lie in (0, 1], so log sigma is
    still finite and decreasing: the midpoint sits half a step on, and 0 after the last level is N."""
    sigmas = flow_sigmas(SAMPLERS["Euler"], 8)[:-1]
    schedule = ReleaseSchedule(sigmas)
    midpoints = (sigmas[:-1] * sigmas[1:]).sqrt()
    assert torch.allclose(schedule.position(midpoints), torch.arange(7) + 0.5, atol=1e-4)
    assert torch.equal(schedule.position(sigmas), torch.arange(8.0))
    assert float(schedule.position(torch.tensor(0.0))) == 8.0


@pytest.mark.parametrize("name", FLOW_SAMPLERS)
def test_all_change_map_is_plain_img2img_bit_for_bit_on_a_flow_model(name, scene):
    plain, _ = run(name, scene)
    ours, _ = run(name, scene, change=torch.ones(HEIGHT, WIDTH))
    assert torch.equal(plain, ours)


@pytest.mark.parametrize("name", FLOW_SAMPLERS)
@pytest.mark.parametrize("denoising", [1.0, 0.6])
def test_all_keep_map_returns_the_original_latent_on_a_flow_model(name, denoising, scene):
    _, original, _ = scene
    final, injector = run(name, scene, change=torch.zeros(HEIGHT, WIDTH), denoising=denoising)
    assert torch.equal(injector.finish(final), original)


@pytest.mark.parametrize("name", FLOW_SAMPLERS)
@pytest.mark.parametrize("denoising", [1.0, 0.5])
def test_each_level_is_released_at_its_step_on_a_flow_model(name, denoising, scene):
    _, original, noise = scene
    record = Recorder(None)
    change = banded_change()
    _, injector = run(name, scene, change=change, record=record, denoising=denoising, release_rule=STEPPED)  # the stepped rule's shares
    steps = injector.schedule.steps
    check_masks(record, change, steps, future_hinting=True)
    for seen, level, mask in zip(record.inputs, record.levels, record.injected):
        expected = original * (1 - level) + noise * level
        held = mask.expand_as(seen)
        assert torch.equal(seen[held], expected[held])
    if name in ONE_EVALUATION_PER_STEP:
        taken_part = []
        for level in LEVELS:
            column = int((change[0] == level).nonzero()[0, 0])
            injected = [i for i, mask in enumerate(record.injected) if mask[0, 0, 0, column]]
            taken_part.append(0 if injector.never_released[0, 0, 0, column] else len(record.injected) - max(injected, default=0))
        assert taken_part == [int(level * steps + 1e-6) for level in LEVELS]


@pytest.mark.parametrize("name", FLOW_SAMPLERS)
def test_change_from_the_original_grows_with_strength_on_a_flow_model(name, scene):
    model, original, _ = scene
    per_level = change_per_level(lambda noise, change: run(name, (model, original, noise), change=change), original, noises=2)
    assert per_level[0] == 0.0
    # SD3's shift of 3 puts the first quarter of the steps at s > 0.89 (signal-to-noise (1 - s) / s
    # below 0.12), where the original is all but gone: from 3/4 of the steps on, a region is
    # regenerated entirely and change saturates (LCM, which renoises with fresh noise, too).
    assert per_level[4] > 0.9 * per_level[3], per_level.tolist()
    assert all(a < b for a, b in zip(per_level[:4], per_level[1:4])), per_level.tolist()


def test_flow_space_injection_allocates_no_latent_per_step_and_never_syncs():
    from test_injection_costs import check

    sigmas = flow_sigmas(SAMPLERS["Euler"], 20)
    original, noise = torch.randn(2, 16, 16, 16), torch.randn(2, 16, 16, 16)
    injector = Injector(original, noise, torch.rand(16, 16), ReleaseSchedule.from_sampler_sigmas(sigmas), space=FlowSpace())
    x = original * (1 - sigmas[0]) + noise * sigmas[0]
    check(injector, x, [s * torch.ones(2) for s in sigmas[:-1]])
