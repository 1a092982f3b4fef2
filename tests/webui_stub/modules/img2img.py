"""modules/img2img.py: the batch tab's loop, with inpaint masks matched to images by file name."""

import os
from pathlib import Path

from PIL import Image, ImageOps

from modules import processing, shared

EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff")


def process_batch(p, input_dir, inpaint_mask_dir):
    batch_images = sorted(str(path) for path in Path(input_dir).iterdir() if path.suffix.lower() in EXTENSIONS)
    inpaint_masks = sorted(os.path.join(inpaint_mask_dir, name) for name in os.listdir(inpaint_mask_dir)) if inpaint_mask_dir else []
    is_inpaint_batch = bool(inpaint_masks)
    results = []
    for i, image in enumerate(batch_images):
        shared.state.job = f"{i + 1} out of {len(batch_images)}"
        if shared.state.interrupted or shared.state.stopping_generation:
            break
        img = ImageOps.exif_transpose(Image.open(image))
        p.init_images = [img] * p.batch_size
        image_path = Path(image)
        if is_inpaint_batch:
            if len(inpaint_masks) == 1:
                mask_image_path = inpaint_masks[0]
            else:
                masks_found = list(Path(inpaint_mask_dir).glob(f"{image_path.stem}.*"))
                if len(masks_found) == 0:
                    continue
                mask_image_path = masks_found[0]
            p.image_mask = Image.open(mask_image_path)
        results.append((image_path.name, processing.process_images(p)))
    return results
