"""Release schedules: positions of any sigma or timestep, release points and free-step counts."""

import pytest
import torch

from lib_diffdiff.injection import Injector
from lib_diffdiff.lab.reference import karras_sigmas, linear_alphas_cumprod
from lib_diffdiff.schedule import ReleaseSchedule, timestep_to_sigma, unipc_timesteps


def test_schedule_points_sit_at_their_step_and_between_points_interpolate():
    sigmas = karras_sigmas(10)
    schedule = ReleaseSchedule.from_sampler_sigmas(sigmas)
    assert schedule.steps == 10
    assert schedule.position(sigmas[:-1]).tolist() == list(range(10))
    middle = (sigmas[3] * sigmas[4]).sqrt()  # halfway in log-sigma
    assert schedule.position(middle).item() == pytest.approx(3.5, abs=1e-4)
    assert schedule.position(sigmas[0] * 2).item() == 0.0
    assert schedule.position(torch.tensor(0.0)).item() == 10.0
    assert schedule.position(sigmas[9] / 2).item() == pytest.approx(9.5)


def test_position_is_monotone_in_sigma():
    schedule = ReleaseSchedule.from_sampler_sigmas(karras_sigmas(7))
    sigmas = torch.logspace(-3, 1.5, 200).flip(0)
    positions = schedule.position(sigmas)
    assert (positions[1:] >= positions[:-1]).all()


def test_timesteps_map_through_alphas():
    alphas = linear_alphas_cumprod()
    timesteps = torch.tensor([901, 801, 701, 601])
    schedule = ReleaseSchedule.from_timesteps(timesteps, alphas)
    assert schedule.position(timestep_to_sigma(timesteps.float(), alphas)).tolist() == [0, 1, 2, 3]
    assert timestep_to_sigma(torch.tensor(500.0), alphas) == pytest.approx(((1 - alphas[500]) / alphas[500]).sqrt())


def test_free_steps_are_a_share_c_of_the_steps():
    schedule = ReleaseSchedule.from_sampler_sigmas(karras_sigmas(10))
    change = torch.tensor([0.0, 0.05, 0.1, 0.3, 0.5, 0.99, 1.0])
    assert schedule.free_steps(change).tolist() == [0, 0, 1, 3, 5, 9, 10]


@pytest.mark.parametrize("bad", [torch.tensor([]), torch.tensor([1.0, 2.0]), torch.tensor([1.0, 0.0]), torch.tensor([1.0, float("nan")])])
def test_bad_schedules_are_refused(bad):
    with pytest.raises(ValueError):
        ReleaseSchedule(bad)


@pytest.mark.parametrize("skip_type", ["time_uniform", "time_quadratic", "logSNR"])
def test_unipc_evaluates_on_its_own_grid_spaced_as_its_skip_type_says(skip_type):
    alphas = linear_alphas_cumprod()
    top, steps = 811, 9
    times = unipc_timesteps(top, steps, skip_type, alphas).double()
    grid = torch.cat([times, times.new_zeros(1)])  # the last step ends at timestep 0, unevaluated
    assert len(times) == steps and times[0] == top and (times.diff() < 0).all() and times[-1] > 0
    if skip_type == "time_uniform":
        spaced = grid
    elif skip_type == "time_quadratic":
        spaced = ((grid + 1) / len(alphas)).sqrt()
    else:  # half log-SNR, log alpha linear between timesteps
        log_alphas = 0.5 * alphas.double().log()
        low = grid.floor().long().clamp_max(len(alphas) - 2)
        log_alpha = torch.lerp(log_alphas[low], log_alphas[low + 1], grid - low)
        spaced = log_alpha - 0.5 * torch.log1p(-torch.exp(2 * log_alpha))
    gaps = spaced.diff()
    assert torch.allclose(gaps, gaps.mean().expand_as(gaps), rtol=1e-3)


def test_unipc_rejects_an_unknown_skip_type():
    with pytest.raises(ValueError, match="skip type"):
        unipc_timesteps(500, 5, "cosine", linear_alphas_cumprod())


@pytest.mark.parametrize("rule", ["continuous", "stepped"])
def test_the_injection_and_released_at_read_a_level_alike(rule):
    """What `released_at` calls held the injection pulls fully to the original (future hinting), and
    what the injection leaves alone is released: an inpainting checkpoint's mask (released_at) and
    the injection agree at every evaluation, timestep samplers included."""
    from lib_diffdiff.injection import TimestepSpace

    alphas = linear_alphas_cumprod()
    timesteps = torch.tensor([999, 799, 599, 399, 199, 99])
    change = torch.rand(8, 8, generator=torch.Generator().manual_seed(3))
    latent = torch.zeros(1, 4, 8, 8)
    schedule = ReleaseSchedule.from_timesteps(timesteps, alphas)
    injector = Injector(latent, torch.randn(1, 4, 8, 8), change, schedule, space=TimestepSpace(alphas), release_rule=rule)
    for level in timesteps:
        released = injector.released_at(level)
        weight = injector.inject_(latent.clone(), level)
        assert torch.all(weight[released == 0] == 1) and torch.all(released[weight == 0] == 1)
        assert torch.equal(released, injector.released(injector.position(level)))
    assert 0 < injector.released_at(timesteps[3]).mean() < 1, "the map splits held and released pixels"


def _injection_at(injector, positions, *, state_at=()):
    """Whether each pixel is injected at evaluations at `positions` (on a 4-step sigma schedule);
    `state_at`: indices before which a state injection at that evaluation's level comes first."""
    sigmas = injector.schedule.sigmas
    levels = [torch.exp(torch.lerp(sigmas.log()[int(p)], sigmas.log()[min(int(p) + 1, 3)], p - int(p))) for p in positions]
    seen = []
    for i, level in enumerate(levels):
        if i in state_at:
            injector.inject_state_(torch.zeros_like(injector.original), level)
        seen.append((injector.inject_(torch.zeros_like(injector.original), level)[0, 0, 0] == 1).tolist())
    return seen


@pytest.mark.parametrize(
    "positions, expected",
    [
        # one evaluation per step: set off at the first step at or after the release (1.7 -> 2)
        ([0, 1, 2, 3], [True, True, True, False]),
        # DPM2's midpoints: released at 1.7, set off at 2 and free at its midpoint 2.5
        ([0, 0.5, 1, 1.5, 2, 2.5, 3], [True, True, True, True, True, False, False]),
        # Heun: the corrector at 2 and the next step at 2 share a window, so both set it off
        ([0, 1, 1, 2, 2, 3], [True, True, True, True, True, False]),
        # DPM adaptive's small steps: set off at 1.8, not held through the whole step after 1.7
        ([0, 1.0, 1.5, 1.8, 2.1, 2.4], [True, True, True, True, False, False]),
        # a sampler that goes back (a restart to 1.6, a rejected step) holds what it has not released,
        # and sets it off again at the first evaluation after its release
        ([0, 1, 1.8, 1.6, 2.2], [True, True, True, True, True]),
        # a long stride (1 -> 2.5) reaches back a step only; going back to 1.9, past its release,
        # sets it off again (a window of a step back), and the evaluation after leaves it free
        ([0, 1, 2.5, 1.9, 2.3], [True, True, True, True, False]),
        ([0, 0.5, 2.9, 3], [True, True, False, False]),
    ],
)
def test_a_pixel_sets_off_at_the_first_evaluation_at_or_after_its_release(positions, expected):
    """Released at 1.7 of 4 steps (change 0.575), stepped rule: injected while held and at the first
    evaluation at or after 1.7, whose window reaches back to the previous evaluation, at most a step."""
    change = torch.full((1, 1), 0.575)
    schedule = ReleaseSchedule(karras_sigmas(4)[:-1])
    injector = Injector(torch.zeros(1, 1, 1, 1), torch.ones(1, 1, 1, 1), change, schedule, release_rule="stepped")
    assert [seen[0] for seen in _injection_at(injector, positions)] == expected


def test_a_state_injection_does_not_move_the_window():
    """UniPC's corrected state is injected at the level of the evaluation that follows it; the
    evaluation then sets off the pixels released since the one before."""
    change = torch.full((1, 1), 0.575)
    schedule = ReleaseSchedule(karras_sigmas(4)[:-1])
    plain = Injector(torch.zeros(1, 1, 1, 1), torch.ones(1, 1, 1, 1), change, schedule, release_rule="stepped")
    stated = Injector(torch.zeros(1, 1, 1, 1), torch.ones(1, 1, 1, 1), change, schedule, release_rule="stepped")
    positions = [0, 1, 2, 3]
    assert _injection_at(stated, positions, state_at=(1, 2, 3)) == _injection_at(plain, positions)
