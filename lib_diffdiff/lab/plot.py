"""The trend plot of the reliability benchmark, drawn with PIL alone."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from ..text import paste_text

COLOURS = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75), (227, 119, 194), (23, 190, 207))


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]: steps of 1, 2 or 5 times a power of ten."""
    raw = (high - low) / max(count - 1, 1) or 1.0
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    return [first + k * step for k in range(int(math.ceil((high - first) / step)) + 1)]


def plot_trends(trends: dict[str, np.ndarray], labels: dict[str, str], title: str, x_label: str, y_label: str) -> Image.Image:
    """A line per trend against the column index, with a legend of `labels` (up to two lines each) beside the plot."""
    width, height, legend_width = 1100, 520, 360
    left, right, top, bottom = 110, width - legend_width, 60, height - 80
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    values = np.concatenate([np.asarray(trend, dtype=np.float64) for trend in trends.values()])
    ticks = nice_ticks(float(values.min()), float(values.max()))
    low, high = ticks[0], ticks[-1]
    columns = max(len(trend) for trend in trends.values())
    x_of = lambda column: left + (right - left) * column / max(columns - 1, 1)
    y_of = lambda value: bottom - (bottom - top) * (value - low) / (high - low)

    for tick in ticks:
        y = y_of(tick)
        draw.line([(left, y), (right, y)], fill=(225, 225, 225))
        paste_text(canvas, f"{tick:g}", (left - 8, y), anchor="rm", scale=2)
    for column in (tick for tick in nice_ticks(0, columns - 1) if tick <= columns - 1):
        draw.line([(x_of(column), bottom), (x_of(column), bottom + 5)], fill=(0, 0, 0))
        paste_text(canvas, f"{column:g}", (x_of(column), bottom + 8), anchor="mt", scale=2)
    if low < 0 < high:
        draw.line([(left, y_of(0)), (right, y_of(0))], fill=(150, 150, 150))
    draw.rectangle([left, top, right, bottom], outline=(0, 0, 0))

    for index, (name, trend) in enumerate(trends.items()):
        colour = COLOURS[index % len(COLOURS)]
        points = [(x_of(column), y_of(value)) for column, value in enumerate(np.asarray(trend, dtype=np.float64))]
        draw.line(points, fill=colour, width=2)
        y = top + 10 + 56 * index
        draw.line([(right + 16, y + 12), (right + 40, y + 12)], fill=colour, width=3)
        for line, text in enumerate(labels.get(name, name).split("\n")):
            paste_text(canvas, text, (right + 48, y + 24 * line), scale=2)

    paste_text(canvas, title, (width // 2, 18), anchor="mt", scale=2)
    paste_text(canvas, x_label, ((left + right) // 2, height - 12), anchor="mb", scale=2)
    paste_text(canvas, y_label, (12, (top + bottom) // 2), anchor="lm", rotate=True, scale=2)
    return canvas
