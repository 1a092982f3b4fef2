"""The reliability score R on outputs whose trend is known."""

import numpy as np
import pytest
import torch

from lib_diffdiff.maps import MapOptions, to_change
from lib_diffdiff.lab.metrics import all_change_map, column_trend, gradient_map, normalised_trend, pearson, reliability_score

N, C, H, W = 3, 2, 5, 12


def with_column_change(per_column, originals):
    """`originals` with every pixel of column i moved by per_column[i] (in every row and channel)."""
    return originals + torch.as_tensor(per_column, dtype=torch.float32).view(1, 1, 1, -1)


@pytest.fixture
def originals():
    return torch.rand(N, C, H, W, generator=torch.Generator().manual_seed(0))


def test_column_trend_is_the_papers_formula(originals):
    shift = torch.arange(W, dtype=torch.float32) * 0.1
    edited = with_column_change(shift, originals)
    # ||column i of the change||_2 = shift[i] * sqrt(H * C), summed over N pictures, over N * H
    expected = shift.numpy() * np.sqrt(H * C) * N / (N * H)
    np.testing.assert_allclose(column_trend(edited, originals), expected, rtol=1e-6)


def test_linear_trend_scores_one_and_reversed_minus_one(originals):
    assert reliability_score(with_column_change(torch.arange(W) * 0.1, originals), originals, originals) == pytest.approx(1.0)
    assert reliability_score(with_column_change(torch.arange(W).flip(0) * 0.1, originals), originals, originals) == pytest.approx(-1.0)


def test_the_all_change_trend_is_subtracted(originals):
    """A bias of the method (borders change more) is removed by the all-change run."""
    bias = torch.tensor([0.9, 0.5, 0.2] + [0.0] * (W - 6) + [0.2, 0.5, 0.9])
    all_change = with_column_change(bias, originals)
    gradient = with_column_change(bias + torch.arange(W) * 0.05, originals)
    assert reliability_score(gradient, all_change, originals) == pytest.approx(1.0)
    assert pearson(column_trend(gradient, originals), np.arange(W)) < 0.9
    np.testing.assert_allclose(normalised_trend(gradient, all_change, originals), np.arange(W) * 0.05 * np.sqrt(H * C) / H, atol=1e-6)


def test_noise_without_a_trend_scores_near_zero():
    generator = torch.Generator().manual_seed(1)
    originals = torch.rand(8, 3, 16, 256, generator=generator)
    gradient, all_change = (originals + 0.1 * torch.randn(originals.shape, generator=generator) for _ in range(2))
    assert abs(reliability_score(gradient, all_change, originals)) < 0.2


def test_channels_last_and_numpy_give_the_same_score(originals):
    gradient = with_column_change(torch.arange(W) ** 2 * 0.01, originals)
    channels_first = reliability_score(gradient, originals, originals)
    as_numpy = [np.moveaxis(x.numpy(), 1, -1) for x in (gradient, originals, originals)]
    assert reliability_score(*as_numpy, channel_axis=-1) == pytest.approx(channels_first)
    assert 0.9 < channels_first < 1.0


def test_a_trend_without_variation_has_no_score(originals):
    assert np.isnan(reliability_score(originals, originals, originals))


@pytest.mark.parametrize(
    "edited, match",
    [
        (torch.zeros(N, C, H, W + 1), "same shape"),
        (torch.zeros(C, H, W), "4 dimensions"),
        (torch.full((N, C, H, W), float("nan")), "NaN"),
        (torch.zeros(N, C, H, 1), "at least 2 columns"),
    ],
)
def test_bad_batches_are_named(originals, edited, match):
    if edited.shape[-1] == 1:
        originals = originals[..., :1]
    with pytest.raises(ValueError, match=match):
        column_trend(edited, originals)


def test_bad_channel_axis_and_pearson_lengths_are_refused(originals):
    with pytest.raises(ValueError, match="channel_axis"):
        column_trend(originals, originals, channel_axis=2)
    with pytest.raises(ValueError, match="equal length"):
        pearson([1.0, 2.0, 3.0], [1.0, 2.0])


def test_gradient_map_keeps_left_and_changes_right():
    gray = gradient_map(4, 8)
    assert gray.shape == (4, 8) and torch.all(gray[:, 0] == 1.0)
    torch.testing.assert_close(to_change(gray, MapOptions())[0], torch.arange(8) / 8)
    assert torch.all(to_change(all_change_map(4, 8), MapOptions()) == 1.0)
    with pytest.raises(ValueError, match="width >= 2"):
        gradient_map(4, 1)
