"""Stand-in for modules/masking.py: the crop region of "only masked" inpainting, and masked content "fill"."""

from PIL import Image, ImageFilter, ImageOps


def get_crop_region_v2(mask, pad=0):
    """The bounding box of the mask's nonzero pixels grown by `pad` on every side within the picture,
    as (left, top, right, bottom); None for a blank mask."""
    box = mask.getbbox()
    if box is None:
        return None
    left, top, right, bottom = box
    return max(left - pad, 0), max(top - pad, 0), min(right + pad, mask.width), min(bottom + pad, mask.height)


def _grow(low, high, extra, limit):
    """Grow [low, high) by `extra` split evenly; a range pushed past an edge slides back inside whole
    and is cut only where it is longer than the picture."""
    low -= extra // 2
    high += extra - extra // 2
    if high > limit:
        low, high = low - (high - limit), limit
    if low < 0:
        low, high = 0, high - low
    return low, min(high, limit)


def expand_crop_region(crop_region, processing_width, processing_height, image_width, image_height):
    """Grow the crop's short side until the crop has the job's aspect ratio (the job is then drawn
    from it without distortion)."""
    left, top, right, bottom = crop_region
    width, height = right - left, bottom - top
    aspect = processing_width / processing_height
    if width / height > aspect:
        top, bottom = _grow(top, bottom, int(width / aspect - height), image_height)
    else:
        left, right = _grow(left, right, int(height * aspect - width), image_width)
    return left, top, right, bottom


def fill(image, mask):
    """Masked content "fill": the masked area painted from its surroundings. The unmasked pixels, blurred
    at shrinking radii, are layered over each other (alpha-composited, colours premultiplied while
    blurring), so each masked pixel takes the colours nearest to it; unmasked pixels stay as they are."""
    known = Image.new("RGBa", image.size)
    known.paste(image.convert("RGBA").convert("RGBa"), mask=ImageOps.invert(mask.convert("L")))
    painting = Image.new("RGBA", image.size)
    for radius in (256, 64, 16, 16, 4, 4, 4, 4, 2, 2, 0):
        painting.alpha_composite(known.filter(ImageFilter.GaussianBlur(radius)).convert("RGBA"))
    return painting.convert("RGB")
