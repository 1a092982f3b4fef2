"""modules/masking.py: the crop region of "only masked" inpainting."""

import numpy as np


def get_crop_region_v2(mask, pad=0):
    box = mask.getbbox()
    if not box:
        return None
    x1, y1, x2, y2 = box
    return max(x1 - pad, 0), max(y1 - pad, 0), min(x2 + pad, mask.width), min(y2 + pad, mask.height)


def expand_crop_region(crop_region, processing_width, processing_height, image_width, image_height):
    """Grow the region to the job's aspect ratio, staying inside the image."""
    x1, y1, x2, y2 = crop_region
    ratio_crop_region = (x2 - x1) / (y2 - y1)
    ratio_processing = processing_width / processing_height
    if ratio_crop_region > ratio_processing:
        desired_height = (x2 - x1) / ratio_processing
        diff = int(desired_height - (y2 - y1))
        y1 -= diff // 2
        y2 += diff - diff // 2
        if y2 >= image_height:
            y1 -= y2 - image_height
            y2 = image_height
        y1 = max(y1, 0)
    else:
        desired_width = (y2 - y1) * ratio_processing
        diff = int(desired_width - (x2 - x1))
        x1 -= diff // 2
        x2 += diff - diff // 2
        if x2 >= image_width:
            x1 -= x2 - image_width
            x2 = image_width
        x1 = max(x1, 0)
    return x1, y1, x2, y2


def fill(image, mask):
    """Masked content "fill": the masked area painted with the image's mean colour (the WebUI blurs outward)."""
    pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
    keep = np.asarray(mask.convert("L"), dtype=np.float32)[..., None] / 255.0
    mean = pixels.reshape(-1, 3).mean(0)
    from PIL import Image

    return Image.fromarray((pixels * (1 - keep) + mean * keep).round().astype(np.uint8))
