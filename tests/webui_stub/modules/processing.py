"""modules/processing.py: img2img as WebUI 1.10 runs it: init (masks, "only masked" crop, encoding),
sample (hook, sampler, inpainting blend), then decoding, the mask-overlay composite and infotext,
with the script hooks in the WebUI's order."""

import json

import cv2
import numpy as np
import torch
from PIL import Image, ImageOps

from modules import images, masking, scripts, sd_samplers, shared
from modules.shared import opts, state

opt_C, opt_f = 4, 8


def apply_overlay(image, paste_loc, overlay):
    if overlay is None:
        return image, image.copy()
    if paste_loc is not None:
        x, y, w, h = paste_loc
        base_image = Image.new("RGBA", (overlay.width, overlay.height))
        base_image.paste(images.resize_image(1, image, w, h), (x, y))
        image = base_image
    original_denoised_image = image.copy()
    image = image.convert("RGBA")
    image.alpha_composite(overlay)
    return image.convert("RGB"), original_denoised_image


def create_binary_mask(image, round=True):
    if image.mode == "RGBA" and image.getextrema()[-1] != (255, 255):
        image = image.split()[-1].convert("L")
        if round:
            image = image.point(lambda x: 255 if x > 128 else 0)
    else:
        image = image.convert("L")
    return image


def quote(text):
    text = str(text)
    if "," not in text and "\n" not in text and ":" not in text:
        return text
    return json.dumps(text, ensure_ascii=False)


class ImageRNG:
    """One noise tensor per seed, as modules/rng.py gives them."""

    def __init__(self, shape, seeds):
        self.shape, self.seeds = shape, seeds

    def next(self):
        noise = [torch.randn(self.shape, generator=torch.Generator().manual_seed(int(seed))) for seed in self.seeds]
        return torch.stack(noise).to(shared.device)


class Processed:
    def __init__(self, p, images_list, infotexts, index_of_first_image=0):
        self.images = images_list
        self.infotexts = infotexts
        self.index_of_first_image = index_of_first_image
        self.seed = p.all_seeds[0] if p.all_seeds else p.seed
        self.extra_generation_params = p.extra_generation_params


class StableDiffusionProcessingImg2Img:
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
        mask_blur=4,
        inpainting_fill=1,
        inpaint_full_res=True,
        inpaint_full_res_padding=0,
        inpainting_mask_invert=0,
        mask_round=True,
        script_args=None,
        scripts=None,
    ):
        self.init_images = init_images
        self.prompt, self.negative_prompt, self.seed = prompt, negative_prompt, seed
        self.steps, self.cfg_scale, self.width, self.height = steps, cfg_scale, width, height
        self.denoising_strength, self.sampler_name, self.scheduler = denoising_strength, sampler_name, scheduler
        self.batch_size, self.n_iter, self.resize_mode = batch_size, n_iter, resize_mode
        self.image_mask, self.mask = mask, None
        self.mask_blur_x = self.mask_blur_y = mask_blur
        self.inpainting_fill, self.inpaint_full_res = inpainting_fill, inpaint_full_res
        self.inpaint_full_res_padding, self.inpainting_mask_invert, self.mask_round = (
            inpaint_full_res_padding,
            inpainting_mask_invert,
            mask_round,
        )
        self.script_args = script_args or []
        self.scripts = scripts
        self.sd_model = shared.sd_model
        self.extra_generation_params = {}
        self.overlay_images = None
        self.mask_for_overlay = None
        self.paste_to = None
        self.nmask = None
        self.initial_noise_multiplier = opts.initial_noise_multiplier
        self.color_corrections = None
        self.sampler = None
        self.eta = None

    def init(self, all_prompts, all_seeds):
        self.extra_generation_params["Denoising strength"] = self.denoising_strength
        self.sampler = sd_samplers.create_sampler(self.sampler_name, self.sd_model)
        crop_region = None
        image_mask = self.image_mask
        if image_mask is not None:
            image_mask = create_binary_mask(image_mask, round=self.mask_round)
            if self.inpainting_mask_invert:
                image_mask = ImageOps.invert(image_mask)
                self.extra_generation_params["Mask mode"] = "Inpaint not masked"
            image_mask = _mask_blurred_8bit(image_mask, self.mask_blur_x, self.mask_blur_y)
            if self.mask_blur_x > 0 or self.mask_blur_y > 0:
                self.extra_generation_params["Mask blur"] = self.mask_blur_x
            if self.inpaint_full_res:
                self.mask_for_overlay = image_mask
                mask = image_mask.convert("L")
                crop_region = masking.get_crop_region_v2(mask, self.inpaint_full_res_padding)
                if crop_region:
                    crop_region = masking.expand_crop_region(crop_region, self.width, self.height, mask.width, mask.height)
                    x1, y1, x2, y2 = crop_region
                    image_mask = images.resize_image(2, mask.crop(crop_region), self.width, self.height)
                    self.paste_to = (x1, y1, x2 - x1, y2 - y1)
                    self.extra_generation_params["Inpaint area"] = "Only masked"
                else:
                    crop_region, image_mask, self.mask_for_overlay, self.inpaint_full_res = None, None, None, False
            else:
                image_mask = images.resize_image(self.resize_mode, image_mask, self.width, self.height)
                np_mask = np.clip(np.array(image_mask).astype(np.float32) * 2, 0, 255).astype(np.uint8)
                self.mask_for_overlay = Image.fromarray(np_mask)
            self.overlay_images = []

        imgs = []
        for img in self.init_images:
            image = images.flatten(img, opts.img2img_background_color)
            if crop_region is None and self.resize_mode != 3:
                image = images.resize_image(self.resize_mode, image, self.width, self.height)
            if image_mask is not None:
                if self.mask_for_overlay.size != (image.width, image.height):
                    self.mask_for_overlay = images.resize_image(self.resize_mode, self.mask_for_overlay, image.width, image.height)
                image_masked = Image.new("RGBa", (image.width, image.height))
                image_masked.paste(image.convert("RGBA").convert("RGBa"), mask=ImageOps.invert(self.mask_for_overlay.convert("L")))
                self.overlay_images.append(image_masked.convert("RGBA"))
            if crop_region is not None:
                image = images.resize_image(2, image.crop(crop_region), self.width, self.height)
            if image_mask is not None and self.inpainting_fill != 1:
                image = masking.fill(image, image_mask)
            imgs.append(np.moveaxis(np.array(image).astype(np.float32) / 255.0, 2, 0))

        if len(imgs) == 1:
            batch_images = np.expand_dims(imgs[0], axis=0).repeat(self.batch_size, axis=0)
            if self.overlay_images is not None:
                self.overlay_images = self.overlay_images * self.batch_size
        elif len(imgs) <= self.batch_size:
            self.batch_size = len(imgs)
            batch_images = np.array(imgs)
        else:
            raise RuntimeError(f"bad number of images passed: {len(imgs)}; expecting {self.batch_size} or less")

        image = torch.from_numpy(batch_images).to(shared.device)
        self.init_latent = self.sd_model.encode_first_stage(image * 2 - 1)

        if image_mask is not None:
            latmask = image_mask.convert("RGB").resize((self.init_latent.shape[3], self.init_latent.shape[2]))
            latmask = np.moveaxis(np.array(latmask, dtype=np.float32), 2, 0)[0] / 255
            if self.mask_round:
                latmask = np.around(latmask)
            latmask = np.tile(latmask[None], (self.init_latent.shape[1], 1, 1))
            self.mask = torch.asarray(1.0 - latmask).to(shared.device)
            self.nmask = torch.asarray(latmask).to(shared.device)
            if self.inpainting_fill == 3:
                self.init_latent = self.init_latent * self.mask

        self.image_conditioning = self.img2img_image_conditioning(image * 2 - 1, self.init_latent, image_mask)

    def img2img_image_conditioning(self, source_image, latent_image, image_mask=None):
        """Inpainting checkpoints: cat([mask, masked-image latent]); others get a dummy."""
        if self.sd_model.model.conditioning_key not in {"hybrid", "concat"}:
            return latent_image.new_zeros(latent_image.shape[0], 5, 1, 1)
        if image_mask is not None:
            conditioning_mask = torch.from_numpy(np.array(image_mask.convert("L"), dtype=np.float32) / 255.0)[None, None].round()
        else:
            conditioning_mask = source_image.new_ones(1, 1, *source_image.shape[-2:])
        conditioning_image = self.sd_model.encode_first_stage(source_image * (1.0 - conditioning_mask))
        conditioning_mask = torch.nn.functional.interpolate(conditioning_mask, size=latent_image.shape[-2:])
        conditioning_mask = conditioning_mask.expand(conditioning_image.shape[0], -1, -1, -1)
        return torch.cat([conditioning_mask, conditioning_image], dim=1)

    def sample(self, conditioning, unconditional_conditioning, seeds, prompts):
        x = self.rng.next()
        if self.initial_noise_multiplier != 1.0:
            x *= self.initial_noise_multiplier
        if self.scripts is not None:
            self.scripts.process_before_every_sampling(p=self, x=self.init_latent, noise=x, c=conditioning, uc=unconditional_conditioning)
        samples = self.sampler.sample_img2img(
            self, self.init_latent, x, conditioning, unconditional_conditioning, image_conditioning=self.image_conditioning
        )
        if self.mask is not None:
            blended_samples = samples * self.nmask + self.init_latent * self.mask
            if self.scripts is not None:
                mba = scripts.MaskBlendArgs(samples, self.nmask, self.init_latent, self.mask, blended_samples)
                self.scripts.on_mask_blend(self, mba)
                blended_samples = mba.blended_latent
            samples = blended_samples
        return samples


def create_infotext(p, index):
    generation_params = {
        "Steps": p.steps,
        "Sampler": p.sampler_name,
        "CFG scale": p.cfg_scale,
        "Seed": p.all_seeds[index],
        "Size": f"{p.width}x{p.height}",
        **p.extra_generation_params,
    }
    text = ", ".join(f"{k}: {quote(v)}" for k, v in generation_params.items() if v is not None)
    return f"{p.prompt}\nNegative prompt: {p.negative_prompt}\n{text}"


def process_images(p) -> Processed:
    if p.scripts is not None:
        p.scripts.before_process(p)
    p.all_seeds = [int(p.seed) + i for i in range(p.batch_size * p.n_iter)]
    p.all_prompts = [p.prompt] * len(p.all_seeds)
    if p.scripts is not None:
        p.scripts.process(p)

    output_images, infotexts = [], []
    with torch.no_grad():
        p.init(p.all_prompts, p.all_seeds)
        for n in range(p.n_iter):
            p.iteration = n
            if state.interrupted or state.stopping_generation:
                break
            p.prompts = p.all_prompts[n * p.batch_size : (n + 1) * p.batch_size]
            p.seeds = p.all_seeds[n * p.batch_size : (n + 1) * p.batch_size]
            p.rng = ImageRNG((getattr(p.sd_model, "latent_channels", opt_C), p.height // opt_f, p.width // opt_f), p.seeds)
            if p.scripts is not None:
                p.scripts.process_batch(p, batch_number=n, prompts=p.prompts, seeds=p.seeds)
            p.c = p.sd_model.get_learned_conditioning(p.prompts)
            p.uc = p.sd_model.get_learned_conditioning([p.negative_prompt] * len(p.prompts))
            samples = p.sample(conditioning=p.c, unconditional_conditioning=p.uc, seeds=p.seeds, prompts=p.prompts)
            if p.scripts is not None:
                ps = scripts.PostSampleArgs(samples)
                p.scripts.post_sample(p, ps)
                samples = ps.samples
            x_samples = torch.clamp((p.sd_model.decode_first_stage(samples) + 1.0) / 2.0, min=0.0, max=1.0)
            for i, x_sample in enumerate(x_samples):
                image = Image.fromarray((255.0 * np.moveaxis(x_sample.numpy(), 0, 2)).astype(np.uint8))
                mask_for_overlay = p.mask_for_overlay
                overlay_image = (
                    p.overlay_images[i] if opts.overlay_inpaint and p.overlay_images is not None and i < len(p.overlay_images) else None
                )
                if p.scripts is not None:
                    ppmo = scripts.PostProcessMaskOverlayArgs(i, mask_for_overlay, overlay_image)
                    p.scripts.postprocess_maskoverlay(p, ppmo)
                    overlay_image = ppmo.overlay_image
                image, _ = apply_overlay(image, p.paste_to, overlay_image)
                output_images.append(image)
                infotexts.append(create_infotext(p, n * p.batch_size + i))

    res = Processed(p, output_images, infotexts)
    if p.scripts is not None:
        p.scripts.postprocess(p, res)
    return res


def _mask_blurred_8bit(mask, sigma_x, sigma_y):
    """The WebUI blurs the uint8 mask with OpenCV, one axis at a time (horizontal, then vertical), a
    kernel reaching 2.5 sigma (rounded) on each side; OpenCV rounds to 8 bits after each pass."""
    plane = np.array(mask)
    if sigma_x > 0:
        reach = int(sigma_x * 2.5 + 0.5)
        plane = cv2.GaussianBlur(plane, (2 * reach + 1, 1), sigma_x)
    if sigma_y > 0:
        reach = int(sigma_y * 2.5 + 0.5)
        plane = cv2.GaussianBlur(plane, (1, 2 * reach + 1), sigma_y)
    return Image.fromarray(plane)
