"""Fill: what changed pixels are held at and set off from, weighted by the map; kept pixels never touched."""

import pytest
import torch

from lib_diffdiff.errors import SettingsError
from lib_diffdiff.fill import BLUR_FILL, FILLS, NOISE, NONE, filled_original, seeded_noise
from lib_diffdiff.params import Settings
from lib_diffdiff.schedule import ReleaseSchedule


def ramp(height=6, width=10) -> torch.Tensor:
    """Change strengths 0 on the left column to 1 on the right one."""
    return torch.linspace(0, 1, width).expand(height, width).clone()


def test_none_is_the_original_itself():
    original = torch.randn(2, 4, 6, 10)
    assert filled_original(original, ramp(), NONE, [1, 2]) is original


@pytest.mark.parametrize("fill", [NOISE, BLUR_FILL])
def test_strength_0_is_never_filled(fill):
    original = torch.randn(2, 4, 6, 10)
    filled = filled_original(original, ramp(), fill, [1, 2])
    assert torch.equal(filled[..., 0], original[..., 0])
    assert not torch.equal(filled[..., -1], original[..., -1])


def test_the_fill_weight_is_strength_squared():
    original, change = torch.randn(2, 4, 6, 10), ramp()
    target = seeded_noise((2, 4, 6, 10), [1, 2])
    filled = filled_original(original, change, NOISE, [1, 2])
    assert torch.allclose(filled, original + change.square() * (target - original), atol=1e-6)


def test_noise_fill_is_the_seeds_and_differs_by_seed():
    original = torch.zeros(2, 4, 6, 10)
    first = filled_original(original, torch.ones(6, 10), NOISE, [7, 8])
    assert torch.equal(first, filled_original(original, torch.ones(6, 10), NOISE, [7, 8]))
    assert not torch.equal(first[0], first[1])


def test_blur_fill_takes_the_colours_of_the_kept_surroundings():
    """A flat region of one colour under full change, inside kept surroundings of another: filled, it
    takes the surroundings' colour (everywhere, as the region is far smaller than the picture)."""
    original = torch.full((1, 4, 32, 32), 1.0)
    original[..., 12:20, 12:20] = -1.0
    change = torch.zeros(32, 32)
    change[12:20, 12:20] = 1.0
    filled = filled_original(original, change, BLUR_FILL, [0])
    assert torch.allclose(filled[..., 12:20, 12:20], torch.ones(1, 4, 8, 8), atol=1e-4)
    assert torch.equal(filled[..., :12, :], original[..., :12, :])


def test_blur_fill_with_nothing_kept_is_the_mean_colour():
    original = torch.randn(1, 4, 8, 8)
    filled = filled_original(original, torch.ones(8, 8), BLUR_FILL, [0])
    assert torch.allclose(filled, original.mean(dim=(-2, -1), keepdim=True).expand_as(original), atol=1e-5)


def test_held_and_released_pixels_are_injected_with_the_filled_original():
    original, noise = torch.randn(1, 4, 6, 10), torch.randn(1, 4, 6, 10)
    schedule = ReleaseSchedule(torch.tensor([3.0, 1.0, 0.3]))
    injector = Settings(enabled=True, fill=NOISE).injector(original, noise, ramp(), schedule, seeds=[5])
    assert torch.equal(injector.original, filled_original(original, ramp(), NOISE, [5]))
    assert torch.equal(Settings(enabled=True).injector(original, noise, ramp(), schedule).original, original)


def test_a_bad_fill_is_refused_naming_it():
    with pytest.raises(SettingsError, match="fill"):
        Settings.from_values({"enabled": True, "fill": "sprinkles"})
    with pytest.raises(ValueError, match="fill"):
        filled_original(torch.zeros(1, 4, 2, 2), torch.ones(2, 2), "sprinkles", [0])
    assert FILLS == (NONE, NOISE, BLUR_FILL)
