"""Stand-in for modules/img2img.py's batch tab: every picture of a folder as one job, with the inpaint
mask of the same name (any extension) from the mask folder, or the only mask there for all of them."""

from pathlib import Path

from PIL import Image, ImageOps

from modules import processing, shared

PICTURE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff"}


def _mask_for(picture: Path, masks: list):
    if len(masks) == 1:
        return masks[0]
    named = [mask for mask in masks if mask.stem == picture.stem]
    return named[0] if named else None


def process_batch(p, input_dir, inpaint_mask_dir):
    pictures = sorted(path for path in Path(input_dir).iterdir() if path.suffix.lower() in PICTURE_SUFFIXES)
    masks = sorted(Path(inpaint_mask_dir).iterdir()) if inpaint_mask_dir else []
    results = []
    for number, picture in enumerate(pictures, start=1):
        shared.state.job = f"{number} out of {len(pictures)}"
        if shared.state.interrupted or shared.state.stopping_generation:
            break
        p.init_images = [ImageOps.exif_transpose(Image.open(picture))] * p.batch_size
        if masks:
            mask = _mask_for(picture, masks)
            if mask is None:  # a picture without its mask is skipped
                continue
            p.image_mask = Image.open(mask)
        results.append((picture.name, processing.process_images(p)))
    return results
