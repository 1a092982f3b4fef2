"""Pictures drawn with PIL alone: text labels at any size and the trend plot of the reliability benchmark."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# PIL's built-in bitmap font: load_default() gives a FreeType font instead from Pillow 10.1 on, which
# would change every picture's pixels with the Pillow version.
BITMAP_FONT = getattr(ImageFont, "load_default_imagefont", ImageFont.load_default)

COLOURS = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75), (227, 119, 194), (23, 190, 207))


def text_block(text: str, scale: int = 1, fill=(0, 0, 0), background=None, padding: int = 1) -> Image.Image:
    """`text` in PIL's built-in bitmap font, enlarged `scale` times (it is about 11 pixels high)."""
    font = BITMAP_FONT()
    left, top, right, bottom = font.getbbox(text)
    size = (right - left + 2 * padding, bottom - top + 2 * padding)
    block = Image.new("RGBA", size, (*background, 255) if background else (0, 0, 0, 0))
    ImageDraw.Draw(block).text((padding - left, padding - top), text, font=font, fill=(*fill, 255))
    return block.resize((size[0] * scale, size[1] * scale), Image.NEAREST) if scale > 1 else block


def paste_text(canvas: Image.Image, text: str, position, anchor: str = "lt", rotate: bool = False, **style) -> None:
    """Draw `text` onto `canvas` in place; `anchor` is l/m/r then t/m/b, as in PIL."""
    block = text_block(text, **style)
    if rotate:
        block = block.rotate(90, expand=True)
    shift_x = {"l": 0, "m": block.width // 2, "r": block.width}[anchor[0]]
    shift_y = {"t": 0, "m": block.height // 2, "b": block.height}[anchor[1]]
    canvas.paste(block, (int(position[0]) - shift_x, int(position[1]) - shift_y), block)


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
