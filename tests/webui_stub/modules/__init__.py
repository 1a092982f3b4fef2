"""A stand-in for the parts of AUTOMATIC1111 WebUI 1.10's `modules` that the extension touches.

Written for this project from what the WebUI does (read in its source, which is AGPL-3.0; none of it
is copied here): the same public names and call signatures the extension uses, our own code behind
them. Only the tests put this folder on sys.path. Tiny weight-free models (tests/webui_stub/
tiny_models.py, an 8x8 block-mean "VAE") take the place of the networks; the samplers are the real
k-diffusion functions plus the WebUI's own ones as tests/webui_sampling.py writes them.

Modelled, because the extension depends on it:
- the script hooks and their order (scripts.py, processing.py): before_process, process, init,
  then per batch process_batch, process_before_every_sampling(x=init latent, noise=...), sampling,
  the rounded latent-mask blend with on_mask_blend, post_sample, decoding, postprocess_maskoverlay
  and the overlay composite, postprocess last; a hook's exception is reported and swallowed;
- what `p` carries into those hooks: init_images, width/height, resize_mode, image_mask, mask_blur_x
  and mask_blur_y, inpaint_full_res(_padding), inpainting_fill, inpainting_mask_invert, mask_round,
  paste_to, mask_for_overlay, overlay_images, mask/nmask, init_latent, image_conditioning, seeds,
  sampler, extra_generation_params, script_args, refiner_checkpoint(_info), refiner_switch_at;
- the inpaint mask: alpha of a partly transparent RGBA (rounded above 128), invert, blur per axis
  (x, then y) with OpenCV on the 8-bit mask, kernel size 2 * int(2.5 * sigma + 0.5) + 1; "only masked": bounding box plus padding, grown to the job's aspect ratio and slid back
  inside the picture whole where it crosses an edge, scaled with "resize and fill", pasted back with
  "crop and resize"; otherwise the mask resized with the job's resize mode and doubled for the overlay;
- resize modes 0-2 for pictures and masks, and mode 3 (latent upscale): the picture keeps its size,
  its latent is resized bilinearly to the job's (masks go through mode 2's code, as in the WebUI);
- masked content: fill (blurred surroundings layered over the masked area), original, latent noise
  (per-seed noise where the rounded mask paints), latent nothing (zeros there);
- the latent masks (bicubic to latent size, rounded unless mask_round is off) and an inpainting
  checkpoint's conditioning (mask and masked-picture latent);
- samplers: the CFG denoiser the samplers call with their own x (the hook point), cond and uncond
  in one batch, the blend after the model (k-diffusion) or on its input (timestep samplers), the
  DDIM CFG++ hooks; img2img's step arithmetic, sigma and timestep schedules, every schedule type,
  Brownian noise per seed; SD3's hook points: a checkpoint's `add_noise_to_latent` starts k-diffusion
  img2img, its `create_denoiser` builds the inner model and its `latent_channels` shapes the
  starting noise, where it has them;
- the refiner switch: inside the CFG denoiser, before the model call, once sampling has come
  `refiner_switch_at` of the way (read from the call's sigma, or its timestep), the checkpoint is
  swapped (sd_models.py), the inner model and conditioning are rebuilt on the same denoiser object;
  every batch starts again on the main checkpoint;
- the X/Y/Z plot's cells (a shallow copy of the job each), the batch tab's mask matching, the HTTP
  API's script arguments and error answers, infotext writing and pasting, options, InputAccordion.

Left out: txt2img and hires fix (the WebUI offers hires fix only on txt2img: img2img jobs have no
second pass), the refiner switch counted by sampling steps (an option), colour correction, face
restoration, saving, extra networks, prompt editing, seed variation, upscalers, the VAE, the
interrupt's partial results beyond "return the last latent", progress, the gradio page itself.
"""
