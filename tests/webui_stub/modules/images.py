"""Stand-in for modules/images.py: `flatten`, `resize_image` (the img2img resize modes, no upscaler) and `read`."""

from PIL import Image, ImageOps

LANCZOS = Image.Resampling.LANCZOS


def flatten(img, bgcolor):
    """A transparent picture over the background colour; anything else just as RGB."""
    if img.mode != "RGBA":
        return img.convert("RGB")
    backdrop = Image.new("RGBA", img.size, bgcolor)
    backdrop.paste(img, mask=img)
    return backdrop.convert("RGB")


def _centred(picture, width, height):
    canvas = Image.new("RGB", (width, height))  # RGB whatever came in, as in the WebUI (masks too)
    canvas.paste(picture, box=(width // 2 - picture.width // 2, height // 2 - picture.height // 2))
    return canvas


def resize_image(resize_mode, im, width, height, upscaler_name=None):
    """0: stretch to the size. 1: cover the size keeping the aspect ratio, the overflow cut evenly.
    Anything else (2, and 3 as img2img's latent upscale passes it for masks): fit inside keeping the
    aspect ratio and stretch the picture's edge rows or columns into the bars."""
    if resize_mode == 0:
        return im.resize((width, height), resample=LANCZOS)
    target, source = width / height, im.width / im.height
    by_width = (width, im.height * width // im.width)
    by_height = (im.width * height // im.height, height)
    if resize_mode == 1:
        return _centred(im.resize(by_width if target > source else by_height, resample=LANCZOS), width, height)
    inner = im.resize(by_width if target < source else by_height, resample=LANCZOS)
    result = _centred(inner, width, height)
    if target < source:  # bars above and below
        bar = height // 2 - inner.height // 2
        if bar > 0:
            result.paste(inner.resize((width, bar), box=(0, 0, width, 0)), box=(0, 0))
            result.paste(inner.resize((width, bar), box=(0, inner.height, width, inner.height)), box=(0, bar + inner.height))
    elif target > source:  # bars left and right
        bar = width // 2 - inner.width // 2
        if bar > 0:
            result.paste(inner.resize((bar, height), box=(0, 0, 0, height)), box=(0, 0))
            result.paste(inner.resize((bar, height), box=(inner.width, 0, inner.width, height)), box=(bar + inner.width, 0))
    return result


def read(fp, **kwargs):
    """Open an image with its EXIF orientation applied."""
    image = Image.open(fp, **kwargs)
    try:
        return ImageOps.exif_transpose(image)
    except Exception:
        return image
