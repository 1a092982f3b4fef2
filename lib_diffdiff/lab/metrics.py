"""The paper's reliability score R: how closely edits follow a change map's trend.

With a set of pictures D, a map mu and an editing method S, the reconstructed trend is, per column i,

    tau[i] = sum over d in D of ||S(d, mu)[:, i, :] - d[:, i, :]||_2 / (|D| h)

(the L2 norm over the rows and channels of column i). The normalised trend subtracts the trend of
the all-change map xi, which removes each method's own bias (borders change more, some fragments
come out close to the input by chance): tau_hat = tau(G) - tau(xi). G is the horizontal gradient
map (keep at the left, change at the right), and R = Pearson(tau_hat(G), [0, ..., w - 1]): 1 when
the change grows linearly from left to right as the map asks.

Everything here is a pure function of edited pictures and their originals, so it scores any set of
outputs (this package's reference model, or real Stable Diffusion results) the same way.
"""

from __future__ import annotations

import numpy as np
import torch


def gradient_map(height: int, width: int) -> torch.Tensor:
    """G, gray levels with white = keep: G[i, j] = 1 - j / width.

    The paper writes 1 - j / h for its square pictures; dividing by the width keeps the map within
    (0, 1] for any aspect ratio and is the same map when the picture is square.
    """
    _check_size(height, width)
    return (1.0 - torch.arange(width, dtype=torch.float32) / width).expand(height, width).clone()


def all_change_map(height: int, width: int) -> torch.Tensor:
    """xi, the map that changes everything: all zeros with white = keep."""
    _check_size(height, width)
    return torch.zeros(height, width)


def column_trend(edited, originals, channel_axis: int = 1) -> np.ndarray:
    """tau: per column, the L2 norm of the change over rows and channels, averaged over the pictures, over h.

    `edited` and `originals` are matching batches of N pictures, (N, C, H, W) with `channel_axis=1`
    or (N, H, W, C) with `channel_axis=-1` (numpy's layout for PIL pictures), in any value range.
    Returns an array of W values.
    """
    edited = _batch(edited, "edited", channel_axis)
    originals = _batch(originals, "originals", channel_axis)
    if edited.shape != originals.shape:
        raise ValueError(f"edited and originals must have the same shape, got {edited.shape} and {originals.shape}")
    count, height = edited.shape[0], edited.shape[1]
    per_column = np.sqrt(((edited - originals) ** 2).sum(axis=(1, 3)))  # (N, W): rows and channels of each column
    return per_column.sum(axis=0) / (count * height)


def normalised_trend(edited_with_gradient, edited_with_all_change, originals, channel_axis: int = 1) -> np.ndarray:
    """tau_hat = tau(G) - tau(xi): the trend a method follows beyond what it changes anyway."""
    return column_trend(edited_with_gradient, originals, channel_axis) - column_trend(edited_with_all_change, originals, channel_axis)


def pearson(values, reference) -> float:
    """Pearson's correlation coefficient; NaN when either side is constant (no trend to correlate)."""
    values, reference = np.asarray(values, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    if values.ndim != 1 or values.shape != reference.shape or values.size < 2:
        raise ValueError(f"pearson needs two 1-D sequences of equal length >= 2, got shapes {values.shape} and {reference.shape}")
    values, reference = values - values.mean(), reference - reference.mean()
    scale = np.sqrt((values**2).sum() * (reference**2).sum())
    return float((values * reference).sum() / scale) if scale > 0 else float("nan")


def reliability_score(edited_with_gradient, edited_with_all_change, originals, channel_axis: int = 1) -> float:
    """R = Pearson(tau_hat(G), column index): the method's edits of `originals` with the gradient map
    G and with the all-change map xi, each a batch shaped like `originals`.
    """
    trend = normalised_trend(edited_with_gradient, edited_with_all_change, originals, channel_axis)
    return pearson(trend, np.arange(trend.size))


def _batch(pictures, name: str, channel_axis: int) -> np.ndarray:
    """A (N, H, W, C) float64 copy of a batch of pictures, checked."""
    if isinstance(pictures, torch.Tensor):
        pictures = pictures.detach().cpu().double().numpy()
    pictures = np.asarray(pictures, dtype=np.float64)
    if pictures.ndim != 4:
        raise ValueError(f"{name} must be a batch of pictures with 4 dimensions (N, C, H, W or N, H, W, C), got shape {pictures.shape}")
    if channel_axis not in (1, -1, 3):
        raise ValueError(f"channel_axis must be 1 (N, C, H, W) or -1 (N, H, W, C), got {channel_axis}")
    if channel_axis == 1:
        pictures = np.moveaxis(pictures, 1, -1)
    if pictures.shape[0] == 0 or pictures.shape[2] < 2:
        raise ValueError(f"{name} needs at least one picture at least 2 columns wide, got shape {pictures.shape}")
    if not np.isfinite(pictures).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return pictures


def _check_size(height: int, width: int) -> None:
    if height < 1 or width < 2:
        raise ValueError(f"a trend map needs a height >= 1 and a width >= 2, got {height}x{width}")
