"""Stand-in for modules/processing.py: one img2img job, from init pictures to output pictures.

Events come in the WebUI's order: before_process, seeds, process; then `init` (inpaint mask, "only
masked" crop, pictures, encoding, latent masks, masked content); then per batch: back to the main
checkpoint, noise, process_batch, conditioning, process_before_every_sampling, the sampler, the
blend through the rounded latent mask with on_mask_blend, post_sample, decoding,
postprocess_maskoverlay and the overlay composite; postprocess last.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import torch
from PIL import Image, ImageOps

from modules import images, masking, scripts, sd_models, sd_samplers, shared
from modules.shared import opts, state

LATENT_CHANNELS, LATENT_SCALE = 4, 8  # the WebUI's opt_C and opt_f
ONLY_MASKED_RESIZE = 2  # the crop is scaled to the job with "resize and fill"
LATENT_UPSCALE = 3  # resize mode 3: the picture keeps its size, its latent is resized
MASKED_FILL, MASKED_ORIGINAL, MASKED_LATENT_NOISE, MASKED_LATENT_NOTHING = range(4)


class ImageRNG:
    """The starting noise of a batch: one draw per seed from a generator seeded with it (modules/rng.py)."""

    def __init__(self, shape, seeds):
        self.shape, self.seeds = tuple(shape), list(seeds)

    def next(self):
        draws = [torch.randn(self.shape, generator=torch.Generator().manual_seed(int(s))) for s in self.seeds]
        return torch.stack(draws).to(shared.device)


class Processed:
    """What a finished job hands back (the fields the extension and the tests read)."""

    def __init__(self, p, images_list, infotexts, index_of_first_image=0):
        self.images, self.infotexts = images_list, infotexts
        self.index_of_first_image = index_of_first_image
        self.seed = p.all_seeds[0] if p.all_seeds else p.seed
        self.extra_generation_params = p.extra_generation_params  # the job's own dict, not a copy


def read_inpaint_mask(image: Image.Image, round_alpha: bool) -> Image.Image:
    """A drawn mask arrives as RGBA: its alpha is the mask (thresholded above 128 unless the job keeps
    masks soft). Any other image counts by its luminance."""
    if image.mode != "RGBA" or image.getextrema()[3] == (255, 255):
        return image.convert("L")
    alpha = image.getchannel("A")
    return alpha.point(lambda level: 255 * (level > 128)) if round_alpha else alpha


def blur_along(mask: Image.Image, sigma: float, axis: int) -> Image.Image:
    """The WebUI's mask blur along one axis (1: x, 0: y): OpenCV's Gaussian blur of the 8-bit mask with
    a one-dimensional kernel of 2 * int(2.5 * sigma + 0.5) + 1 taps (OpenCV's default border, its
    fixed-point arithmetic, the result rounded to 8 bits)."""
    if sigma <= 0:
        return mask
    taps = 2 * int(2.5 * sigma + 0.5) + 1
    kernel_size = (taps, 1) if axis == 1 else (1, taps)  # OpenCV sizes are (width, height)
    return Image.fromarray(cv2.GaussianBlur(np.array(mask.convert("L")), kernel_size, sigma))


def paste_back(image, overlay, paste_to):
    """The final composite: the generated picture (put back into the full frame for "only masked")
    under the overlay of original pixels. No overlay: the picture as generated, crop or not."""
    if overlay is None:
        return image
    if paste_to is not None:
        left, top, width, height = paste_to
        frame = Image.new("RGBA", overlay.size)
        frame.paste(images.resize_image(1, image, width, height), (left, top))
        image = frame
    composed = image.convert("RGBA")
    composed.alpha_composite(overlay)  # raises where the sizes differ, as the WebUI's does
    return composed.convert("RGB")


def with_transparent_holes(picture: Image.Image, holes: Image.Image) -> Image.Image:
    """The picture with alpha = 255 - holes, colours premultiplied on the way (so a fully transparent
    pixel keeps no colour), the way the overlay of original pixels is built."""
    premultiplied = picture.convert("RGBA").convert("RGBa")
    layer = Image.new("RGBa", picture.size)
    layer.paste(premultiplied, mask=ImageOps.invert(holes.convert("L")))
    return layer.convert("RGBA")


def infotext_value(value) -> str:
    text = str(value)
    return json.dumps(text, ensure_ascii=False) if any(mark in text for mark in ",:\n") else text


def create_infotext(p, index):
    fields = {
        "Steps": p.steps,
        "Sampler": p.sampler_name,
        "CFG scale": p.cfg_scale,
        "Seed": p.all_seeds[index],
        "Size": f"{p.width}x{p.height}",
    }
    fields.update(p.extra_generation_params)
    parameters = ", ".join(f"{name}: {infotext_value(value)}" for name, value in fields.items() if value is not None)
    return "\n".join([p.prompt, f"Negative prompt: {p.negative_prompt}", parameters])


class StableDiffusionProcessingImg2Img:
    """An img2img job. `mask` is the inpaint mask as drawn (kept as `image_mask`; `mask` and `nmask`
    become the latent masks in `init`). `refiner_checkpoint` names a checkpoint of `sd_models`."""

    def __init__(
        self,
        init_images,
        prompt="",
        negative_prompt="",
        seed=1,
        steps=20,
        cfg_scale=7.0,
        width=64,
        height=64,
        denoising_strength=0.75,
        sampler_name="Euler",
        scheduler=None,
        batch_size=1,
        n_iter=1,
        resize_mode=0,
        mask=None,
        mask_blur_x=4,
        mask_blur_y=4,
        mask_blur=None,
        inpainting_fill=MASKED_FILL,  # the job's default (the API's); the UI starts on "original"
        inpaint_full_res=True,
        inpaint_full_res_padding=0,
        inpainting_mask_invert=0,
        mask_round=True,
        refiner_checkpoint=None,
        refiner_switch_at=None,
        script_args=None,
        scripts=None,
    ):
        self.init_images = init_images
        self.prompt, self.negative_prompt = prompt, negative_prompt
        self.seed, self.steps, self.cfg_scale = seed, steps, cfg_scale
        self.width, self.height = width, height
        self.denoising_strength = denoising_strength
        self.sampler_name, self.scheduler = sampler_name, scheduler
        self.batch_size, self.n_iter = batch_size, n_iter
        self.resize_mode = resize_mode
        self.image_mask = mask
        self.mask_blur_x, self.mask_blur_y = mask_blur_x, mask_blur_y
        if isinstance(mask_blur, int):  # one blur for both axes, as the WebUI's mask_blur setter does
            self.mask_blur_x = self.mask_blur_y = mask_blur
        self.inpainting_fill = inpainting_fill
        self.inpaint_full_res, self.inpaint_full_res_padding = inpaint_full_res, inpaint_full_res_padding
        self.inpainting_mask_invert, self.mask_round = inpainting_mask_invert, mask_round
        self.refiner_checkpoint, self.refiner_switch_at = refiner_checkpoint, refiner_switch_at
        self.refiner_checkpoint_info = None
        self.script_args = list(script_args or [])
        self.scripts = scripts
        self.initial_noise_multiplier = opts.initial_noise_multiplier
        self.extra_generation_params = {}
        self.mask = self.nmask = None
        self.mask_for_overlay = self.overlay_images = self.paste_to = None
        self.color_corrections = None
        self.sampler = self.eta = None

    @property
    def sd_model(self):
        """Whatever checkpoint is loaded now: after a refiner switch, the refiner."""
        return shared.sd_model

    @property
    def mask_blur(self):
        return self.mask_blur_x if self.mask_blur_x == self.mask_blur_y else None

    def init(self, all_prompts, all_seeds):
        self.extra_generation_params["Denoising strength"] = self.denoising_strength
        self.sampler = sd_samplers.create_sampler(self.sampler_name, self.sd_model)
        job_mask, crop = self._prepare_mask() if self.image_mask is not None else (None, None)
        pictures = [self._prepare_picture(image, job_mask, crop) for image in self.init_images]
        if len(pictures) > self.batch_size:
            raise RuntimeError(f"{len(pictures)} init images given for a batch of {self.batch_size}; give one, or at most that many")
        if len(pictures) == 1:
            pictures *= self.batch_size
            if self.overlay_images is not None:
                self.overlay_images *= self.batch_size
        self.batch_size = len(pictures)
        if opts.img2img_color_correction:  # each output's colours are matched to its init picture's, before the overlay
            self.color_corrections = [colour_statistics(picture) for picture in pictures]
        batch = torch.from_numpy(np.stack([np.asarray(picture, dtype=np.float32) / 255.0 for picture in pictures]))
        batch = batch.permute(0, 3, 1, 2).to(shared.device)
        self.init_latent = self.sd_model.encode_first_stage(batch * 2 - 1)
        if self.resize_mode == LATENT_UPSCALE:
            latent_size = (self.height // LATENT_SCALE, self.width // LATENT_SCALE)
            self.init_latent = torch.nn.functional.interpolate(self.init_latent, size=latent_size, mode="bilinear")
        if job_mask is not None:
            self._latent_masks(job_mask, all_seeds)
        self.image_conditioning = self.img2img_image_conditioning(batch * 2 - 1, self.init_latent, job_mask)

    def _prepare_mask(self):
        """The inpaint mask at the job's size and the crop of "only masked" (None for the whole picture);
        also the mask the final composite uses."""
        mask = read_inpaint_mask(self.image_mask, self.mask_round)
        if self.inpainting_mask_invert:
            mask = ImageOps.invert(mask)
            self.extra_generation_params["Mask mode"] = "Inpaint not masked"
        mask = blur_along(blur_along(mask, self.mask_blur_x, axis=1), self.mask_blur_y, axis=0)
        if self.mask_blur_x > 0 or self.mask_blur_y > 0:
            self.extra_generation_params["Mask blur"] = self.mask_blur
        self.overlay_images = []
        if not self.inpaint_full_res:
            job_mask = images.resize_image(self.resize_mode, mask, self.width, self.height)
            doubled = np.minimum(np.asarray(job_mask, dtype=np.float32) * 2, 255).astype(np.uint8)
            self.mask_for_overlay = Image.fromarray(doubled)
            return job_mask, None
        found = masking.get_crop_region_v2(mask, self.inpaint_full_res_padding)
        if found is None:  # a blank mask: plain img2img
            self.inpaint_full_res, self.overlay_images = False, None
            return None, None
        crop = masking.expand_crop_region(found, self.width, self.height, mask.width, mask.height)
        left, top, right, bottom = crop
        self.paste_to = (left, top, right - left, bottom - top)
        self.mask_for_overlay = mask
        self.extra_generation_params["Inpaint area"] = "Only masked"
        self.extra_generation_params["Masked area padding"] = self.inpaint_full_res_padding
        return images.resize_image(ONLY_MASKED_RESIZE, mask.crop(crop), self.width, self.height), crop

    def _prepare_picture(self, image, job_mask, crop):
        """One init picture as the model gets it; its overlay of original pixels is kept for the end."""
        picture = images.flatten(image, opts.img2img_background_color)
        if crop is None and self.resize_mode != LATENT_UPSCALE:
            picture = images.resize_image(self.resize_mode, picture, self.width, self.height)
        if job_mask is None:
            return picture
        if self.mask_for_overlay.size != picture.size:
            self.mask_for_overlay = images.resize_image(self.resize_mode, self.mask_for_overlay, *picture.size)
        self.overlay_images.append(with_transparent_holes(picture, self.mask_for_overlay))
        if crop is not None:
            picture = images.resize_image(ONLY_MASKED_RESIZE, picture.crop(crop), self.width, self.height)
        if self.inpainting_fill != MASKED_ORIGINAL:
            picture = masking.fill(picture, job_mask)
            if self.inpainting_fill == MASKED_FILL:
                self.extra_generation_params["Masked content"] = "fill"
        return picture

    def _latent_masks(self, job_mask, all_seeds):
        """`nmask` (where to paint) and `mask` (where to keep) at latent size, rounded unless masks are
        kept soft; "latent noise" and "latent nothing" then replace the latent where it is painted."""
        height, width = self.init_latent.shape[-2:]
        painted = np.asarray(job_mask.convert("L").resize((width, height), Image.BICUBIC), dtype=np.float32) / 255.0
        if self.mask_round:
            painted = np.around(painted)
        painted = torch.from_numpy(painted).expand(self.init_latent.shape[1], -1, -1).to(shared.device)
        self.nmask, self.mask = painted, 1.0 - painted
        if self.inpainting_fill == MASKED_LATENT_NOISE:
            noise = ImageRNG(self.init_latent.shape[1:], all_seeds[: self.init_latent.shape[0]]).next()
            self.init_latent = self.init_latent * self.mask + noise * self.nmask
            self.extra_generation_params["Masked content"] = "latent noise"
        elif self.inpainting_fill == MASKED_LATENT_NOTHING:
            self.init_latent = self.init_latent * self.mask
            self.extra_generation_params["Masked content"] = "latent nothing"

    def img2img_image_conditioning(self, source_image, latent_image, image_mask=None):
        """An inpainting checkpoint's extra input: the mask (rounded) and the latent of the picture with
        the masked part blanked. Other checkpoints get a dummy of the right batch."""
        if self.sd_model.model.conditioning_key not in ("hybrid", "concat"):
            return latent_image.new_zeros(latent_image.shape[0], 5, 1, 1)
        if image_mask is None:
            painted = source_image.new_ones(1, 1, *source_image.shape[-2:])
        else:
            painted = torch.from_numpy(np.asarray(image_mask.convert("L"), dtype=np.float32) / 255.0).round()[None, None].to(source_image.device)
        blanked = self.sd_model.encode_first_stage(source_image * (1.0 - painted))
        painted = torch.nn.functional.interpolate(painted, size=latent_image.shape[-2:])
        return torch.cat([painted.expand(blanked.shape[0], -1, -1, -1), blanked], dim=1)

    def setup_conds(self):
        self.c = self.sd_model.get_learned_conditioning(self.prompts)
        self.uc = self.sd_model.get_learned_conditioning([self.negative_prompt] * len(self.prompts))

    def get_conds(self):
        return self.c, self.uc

    def sample(self, conditioning, unconditional_conditioning, seeds, prompts):
        noise = self.rng.next()
        if self.initial_noise_multiplier != 1.0:
            noise *= self.initial_noise_multiplier
        if self.scripts is not None:
            self.scripts.process_before_every_sampling(
                p=self, x=self.init_latent, noise=noise, c=conditioning, uc=unconditional_conditioning
            )
        samples = self.sampler.sample_img2img(
            self, self.init_latent, noise, conditioning, unconditional_conditioning, image_conditioning=self.image_conditioning
        )
        if self.mask is None:
            return samples
        blended = samples * self.nmask + self.init_latent * self.mask
        if self.scripts is not None:
            args = scripts.MaskBlendArgs(samples, self.nmask, self.init_latent, self.mask, blended)
            self.scripts.on_mask_blend(self, args)
            blended = args.blended_latent
        return blended


def decoded_pictures(p, samples):
    decoded = ((p.sd_model.decode_first_stage(samples) + 1.0) / 2.0).clamp(0.0, 1.0)
    return [Image.fromarray((255.0 * sample.permute(1, 2, 0).cpu().numpy()).astype(np.uint8)) for sample in decoded]


def colour_statistics(picture) -> tuple[np.ndarray, np.ndarray]:
    """What colour correction matches an output to: the init picture's per-channel mean and spread."""
    values = np.asarray(picture.convert("RGB"), dtype=np.float64).reshape(-1, 3)
    return values.mean(axis=0), values.std(axis=0)


def colour_corrected(image, target) -> Image.Image:
    """The WebUI's "Apply color correction to img2img results", as a stand-in: each channel moved to the
    init picture's mean and spread (the WebUI matches histograms in LAB; the effect is of the same kind)."""
    values = np.asarray(image, dtype=np.float64)
    mean, spread = values.reshape(-1, 3).mean(axis=0), values.reshape(-1, 3).std(axis=0)
    matched = (values - mean) / np.maximum(spread, 1e-6) * target[1] + target[0]
    return Image.fromarray(np.clip(np.round(matched), 0, 255).astype(np.uint8))


def finished_picture(p, index, image):
    """The composite of one output: the overlay of original pixels (when inpainting, and the option is
    on), as the scripts leave it, over the generated picture."""
    if p.color_corrections is not None and index < len(p.color_corrections):
        image = colour_corrected(image, p.color_corrections[index])
    overlay = None
    if opts.overlay_inpaint and p.overlay_images is not None and index < len(p.overlay_images):
        overlay = p.overlay_images[index]
    if p.scripts is not None:
        args = scripts.PostProcessMaskOverlayArgs(index, p.mask_for_overlay, overlay)
        p.scripts.postprocess_maskoverlay(p, args)
        overlay = args.overlay_image
    return paste_back(image, overlay, p.paste_to)


def process_images(p) -> Processed:
    hooks = p.scripts
    if hooks is not None:
        hooks.before_process(p)
    main_checkpoint = shared.sd_model
    if p.refiner_checkpoint not in (None, "", "None", "none"):
        p.refiner_checkpoint_info = sd_models.get_closet_checkpoint_match(p.refiner_checkpoint)
        if p.refiner_checkpoint_info is None:
            raise Exception(f"no checkpoint named {p.refiner_checkpoint}")
    p.all_seeds = [int(p.seed) + offset for offset in range(p.batch_size * p.n_iter)]
    p.all_prompts = [p.prompt] * len(p.all_seeds)
    if hooks is not None:
        hooks.process(p)
    outputs, infotexts = [], []
    with torch.no_grad():
        p.init(p.all_prompts, p.all_seeds)
        for n in range(p.n_iter):
            if state.interrupted or state.stopping_generation:
                break
            shared.sd_model = main_checkpoint  # the refiner of the previous batch is swapped out again
            p.iteration = n
            first, last = n * p.batch_size, (n + 1) * p.batch_size
            p.seeds, p.prompts = p.all_seeds[first:last], p.all_prompts[first:last]
            channels = getattr(shared.sd_model, "latent_channels", LATENT_CHANNELS)  # SD3's latent has 16
            frames = (shared.sd_model.latent_frames,) if getattr(shared.sd_model, "is_wan", False) else ()  # Neo: a video latent
            p.rng = ImageRNG((channels, *frames, p.height // LATENT_SCALE, p.width // LATENT_SCALE), p.seeds)
            if hooks is not None:
                hooks.process_batch(p, batch_number=n, prompts=p.prompts, seeds=p.seeds)
            p.setup_conds()
            samples = p.sample(conditioning=p.c, unconditional_conditioning=p.uc, seeds=p.seeds, prompts=p.prompts)
            if hooks is not None:
                after = scripts.PostSampleArgs(samples)
                hooks.post_sample(p, after)
                samples = after.samples
            for index, image in enumerate(decoded_pictures(p, samples)):
                outputs.append(finished_picture(p, index, image))
                infotexts.append(create_infotext(p, first + index))
    result = Processed(p, outputs, infotexts)
    if hooks is not None:
        hooks.postprocess(p, result)
    return result
