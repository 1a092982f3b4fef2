"""Text labels drawn with PIL alone, at any size: the strength fan's labels, the demo's and the plots' captions."""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFont

# PIL's built-in bitmap font: load_default() gives a FreeType font instead from Pillow 10.1 on, which
# would change every picture's pixels with the Pillow version.
BITMAP_FONT = getattr(ImageFont, "load_default_imagefont", ImageFont.load_default)


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
