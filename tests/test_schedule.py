"""Release schedules: positions of any sigma or timestep, release points and free-step counts."""

import pytest
import torch

from lib_diffdiff.reference import karras_sigmas, linear_alphas_cumprod
from lib_diffdiff.schedule import ReleaseSchedule, timestep_to_sigma


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
