"""The diffusers runners on tiny random-weight pipelines built here: no downloads, no weights.

What is compared: "all-change equals diffusers" compares the pipelines' outputs (latents, or IF's
pixels) bit for bit; "all-keep returns the input" compares the final latent with the init image's
latent exactly (SD/SDXL given latents, Kandinsky's MoVQ encoding computed here) and, for IF, which
works on pixels, the output image with the input as the pipeline resized it, pixel for pixel.
"""

import diffusers
import numpy as np
import pytest
import tiny_pipelines as tiny
import torch
from PIL import Image

from lib_diffdiff.injection import CONTINUOUS, RELEASE_RULES, STEPPED
from lib_diffdiff.maps import MapError, MapOptions, prepare_change_map
from lib_diffdiff.runners import DeepFloydIF, DifferentialRun, Kandinsky22, StableDiffusion, StableDiffusionXL

HEIGHT, WIDTH = 24, 32  # SD/SDXL latents 12 x 16 (the tiny VAE halves), IF stage I 16 x 24 -> stage II 32 x 40
STEPS, STRENGTH, SEED = 6, 0.8, 3
KEEP = np.full((5, 7), 255, np.uint8)  # white keeps (the paper's convention), at a size unlike the image's
CHANGE = np.zeros((9, 4), np.uint8)


pytestmark = pytest.mark.usefixtures("one_thread")


def picture(height=HEIGHT, width=WIDTH, seed=0):
    return Image.fromarray((np.random.default_rng(seed).random((height, width, 3)) * 255).astype(np.uint8))


def half_keep_map(height=HEIGHT, width=WIDTH):
    """White (keep) on the left half, black (change) on the right."""
    gray = np.zeros((height, width), np.uint8)
    gray[:, : width // 2] = 255
    return gray


def generator():
    return torch.Generator().manual_seed(SEED)


@pytest.fixture(scope="module")
def sd():
    return tiny.stable_diffusion()


# --- Stable Diffusion, SDXL -------------------------------------------------------------------------


def sd_plain(pipe, image, embeddings, guidance=7.5):
    common = dict(num_inference_steps=STEPS, strength=STRENGTH, guidance_scale=guidance, output_type="latent")
    return pipe(image=image, generator=generator(), **common, **embeddings).images[0]


def test_sd_all_change_map_is_diffusers_img2img_bit_for_bit(sd):
    ours = StableDiffusion(sd)(picture(), CHANGE, steps=STEPS, strength=STRENGTH, seed=SEED, output_type="latent", **tiny.text_embeddings())
    assert torch.equal(ours, sd_plain(sd, picture(), tiny.text_embeddings()))


def test_sd_all_keep_map_returns_the_init_latent(sd):
    init = torch.randn(1, 4, HEIGHT // 2, WIDTH // 2, generator=torch.Generator().manual_seed(5))
    ours = StableDiffusion(sd)(init, KEEP, steps=STEPS, strength=STRENGTH, seed=SEED, output_type="latent", **tiny.text_embeddings())
    assert torch.equal(ours, init[0])


def test_sd_all_keep_map_decodes_to_the_init_image_round_trip(sd):
    """In pixels: the VAE's decoding of the init image's own latent, nothing else."""
    image = picture()
    run = DifferentialRun(sd, KEEP, pixels_per_latent=2)
    ours = run(image=image, num_inference_steps=STEPS, strength=STRENGTH, generator=generator(), output_type="np", **tiny.text_embeddings())
    with torch.no_grad():
        decoded = sd.image_processor.postprocess(sd.vae.decode(run.original / sd.vae.config.scaling_factor).sample, output_type="np")
    assert np.array_equal(ours.images, decoded)


def test_sdxl_all_change_map_is_diffusers_img2img_bit_for_bit():
    pipe, embeddings = tiny.stable_diffusion_xl()
    ours = StableDiffusionXL(pipe)(picture(), CHANGE, steps=STEPS, strength=STRENGTH, seed=SEED, output_type="latent", **embeddings)
    assert torch.equal(ours, sd_plain(pipe, picture(), embeddings, guidance=5.0))


def test_sdxl_all_keep_map_returns_the_init_latent():
    pipe, embeddings = tiny.stable_diffusion_xl()
    init = torch.randn(1, 4, HEIGHT // 2, WIDTH // 2, generator=torch.Generator().manual_seed(5))
    ours = StableDiffusionXL(pipe)(init, KEEP, steps=STEPS, strength=STRENGTH, seed=SEED, output_type="latent", **embeddings)
    assert torch.equal(ours, init[0])


# --- every scheduler SD accepts ---------------------------------------------------------------------

SCHEDULERS = [
    "DDIMScheduler",
    "DDPMScheduler",
    "PNDMScheduler",
    "LMSDiscreteScheduler",
    "EulerDiscreteScheduler",
    "EulerAncestralDiscreteScheduler",
    "HeunDiscreteScheduler",
    "KDPM2DiscreteScheduler",
    "KDPM2AncestralDiscreteScheduler",
    "DPMSolverMultistepScheduler",
    "DPMSolverSinglestepScheduler",
    "DEISMultistepScheduler",
    "UniPCMultistepScheduler",
    "DPMSolverSDEScheduler",
]


def with_scheduler(pipe, name):
    """Swap in a scheduler; DPM-Solver SDE gets a fixed Brownian seed (it would otherwise draw one from torch's global RNG)."""
    extra = {"noise_sampler_seed": 0} if name == "DPMSolverSDEScheduler" else {}
    pipe.scheduler = getattr(diffusers, name).from_config(pipe.scheduler.config, **extra)
    return pipe


@pytest.fixture(scope="module")
def sd_any():
    return tiny.stable_diffusion()


@pytest.mark.parametrize("name", SCHEDULERS)
@pytest.mark.parametrize("release_rule", RELEASE_RULES)
def test_every_scheduler_all_change_is_plain_and_all_keep_returns_the_input(name, release_rule, sd_any):
    pipe = with_scheduler(sd_any, name)
    runner = StableDiffusion(pipe)
    options = dict(steps=STEPS, strength=STRENGTH, seed=SEED, output_type="latent", release_rule=release_rule)
    ours = runner(picture(), CHANGE, **options, **tiny.text_embeddings())
    assert torch.equal(ours, sd_plain(pipe, picture(), tiny.text_embeddings()))
    init = torch.randn(1, 4, HEIGHT // 2, WIDTH // 2, generator=torch.Generator().manual_seed(5))
    assert torch.equal(runner(init, KEEP, **options, **tiny.text_embeddings()), init[0])


@pytest.mark.parametrize("name", SCHEDULERS)
def test_held_pixels_enter_every_unet_call_as_the_original_noised_to_its_level(name, sd_any):
    """Before each UNet call the kept half holds original + noise at the level the scheduler scales by.

    Fitting the UNet's input u = p x0 + q n on the kept pixels gives (p, q). DDPM-type schedulers:
    p = sqrt(a_t), q = sqrt(1 - a_t) for the timestep the UNet is given. k-diffusion-type ones keep
    x0 + s n and scale it by 1 / sqrt(1 + s^2) for the UNet: p^2 + q^2 = 1 holds only when the
    injected level s = q / p is the one the scheduler scales with.
    """
    pipe = with_scheduler(sd_any, name)
    seen = []

    def record(module, args, kwargs):
        seen.append((args[0][:1].detach().clone(), float(torch.as_tensor(args[1]).flatten()[0])))

    hook = pipe.unet.register_forward_pre_hook(record, with_kwargs=True)
    run = DifferentialRun(pipe, half_keep_map(), pixels_per_latent=2)
    try:
        run(
            image=picture(),
            num_inference_steps=STEPS,
            strength=STRENGTH,
            generator=generator(),
            output_type="latent",
            **tiny.text_embeddings(),
        )
    finally:
        hook.remove()
    kept = (run.change == 0).expand_as(run.original[:1])
    assert kept.sum() * 2 >= kept.numel() * 0.9
    x0, noise = run.original[:1][kept].double(), run.noise[:1][kept].double()
    basis = torch.stack([x0, noise], dim=1)
    variance_preserving = float(pipe.scheduler.init_noise_sigma) == 1.0
    assert len(seen) >= int(STEPS * STRENGTH)
    for sample, timestep in seen:
        u = sample[kept].double()
        p, q = torch.linalg.lstsq(basis, u[:, None]).solution[:, 0]
        assert torch.allclose(basis @ torch.stack([p, q]), u, atol=1e-4), "kept pixels are not original + noise"
        if variance_preserving:
            alpha = pipe.scheduler.alphas_cumprod[round(timestep)].double()
            assert torch.allclose(torch.stack([p, q]).flatten(), torch.stack([alpha.sqrt(), (1 - alpha).sqrt()]), atol=1e-4)
        else:
            assert abs(float(p * p + q * q) - 1.0) < 1e-4, (timestep, float(q / p))


@pytest.mark.parametrize("name", SCHEDULERS)
def test_release_rules_agree_on_step_boundaries_and_the_continuous_one_is_continuous_between(name, sd_any):
    """Strength 2/N: both rules alike, bit for bit. Just above it the continuous rule stays close to
    that result, where the stepped rule jumps a whole step only at 3/N; halfway it lies in between."""
    pipe = with_scheduler(sd_any, name)

    def edit(change, release_rule):
        run = DifferentialRun(pipe, torch.full((HEIGHT, WIDTH), 1 - change), release_rule=release_rule, pixels_per_latent=2)
        options = dict(num_inference_steps=STEPS, strength=STRENGTH, generator=generator(), output_type="latent")
        return run(image=picture(), **options, **tiny.text_embeddings()).images[0], run.injector.schedule.steps

    steps = edit(0.5, STEPPED)[1]
    stepped, _ = edit(2 / steps, STEPPED)
    assert torch.equal(edit(2 / steps, CONTINUOUS)[0], stepped)
    jump = (edit(3 / steps, STEPPED)[0] - stepped).norm()
    assert (edit(2 / steps + 1e-3, CONTINUOUS)[0] - stepped).norm() < 0.05 * jump
    halfway = edit(2.5 / steps, CONTINUOUS)[0]
    assert 0.1 * jump < (halfway - stepped).norm() < 0.9 * jump


# --- maps -----------------------------------------------------------------------------------------


def map_sources(tmp_path):
    gray = np.linspace(0, 255, 7 * 11, dtype=np.float64).reshape(7, 11).astype(np.uint8)
    path = tmp_path / "map.png"
    Image.fromarray(gray).save(path)
    return {
        "path": path,
        "L": Image.fromarray(gray),
        "RGB": Image.fromarray(gray).convert("RGB"),
        "RGBA": Image.fromarray(gray).convert("RGBA"),
        "I;16": Image.fromarray(gray.astype(np.uint16) * 257),
        "uint8 array": gray,
        "float tensor": torch.from_numpy(gray / 255.0).float(),
        "bytes": path.read_bytes(),
    }


@pytest.mark.parametrize("kind", ["path", "L", "RGB", "RGBA", "I;16", "uint8 array", "float tensor", "bytes"])
def test_maps_of_any_size_and_mode_are_fitted_to_the_latent_grid(kind, sd, tmp_path):
    source = map_sources(tmp_path)[kind]
    options = MapOptions(blur=1.0)
    run = DifferentialRun(sd, source, options=options, pixels_per_latent=2)
    run(image=picture(), num_inference_steps=3, strength=1.0, generator=generator(), output_type="latent", **tiny.text_embeddings())
    expected = prepare_change_map(map_sources(tmp_path)["L"], WIDTH, HEIGHT, (HEIGHT // 2, WIDTH // 2), options)
    assert run.change.shape == (HEIGHT // 2, WIDTH // 2)
    assert torch.allclose(run.change, expected, atol=1e-6)


def test_an_unreadable_map_names_the_map(sd):
    with pytest.raises(MapError, match="^map: "):
        StableDiffusion(sd)(picture(), np.full((4, 4), 2.0), steps=3, output_type="latent", **tiny.text_embeddings())


def test_the_step_callback_cannot_be_taken_twice(sd):
    with pytest.raises(ValueError, match="callback_on_step_end"):
        StableDiffusion(sd)(picture(), KEEP, steps=3, callback_on_step_end=lambda *a: a[-1], **tiny.text_embeddings())


def test_strength_out_of_range_is_refused(sd):
    with pytest.raises(ValueError, match="^strength"):
        StableDiffusion(sd)(picture(), KEEP, steps=3, strength=1.5, **tiny.text_embeddings())


# --- Kandinsky 2.2 ----------------------------------------------------------------------------------


def test_kandinsky_all_change_map_is_diffusers_img2img_bit_for_bit():
    pipe, embeddings = tiny.kandinsky_22()
    ours = Kandinsky22(pipe)(
        picture(), CHANGE, steps=STEPS, strength=STRENGTH, seed=SEED, width=WIDTH, height=HEIGHT, output_type="latent", **embeddings
    )
    plain = pipe(
        image=picture(),
        num_inference_steps=STEPS,
        strength=STRENGTH,
        guidance_scale=4.0,
        generator=generator(),
        width=HEIGHT,  # the pipeline hands these to its image processor swapped (see lib_diffdiff/runners/kandinsky.py)
        height=WIDTH,
        output_type="latent",
        **embeddings,
    ).images[0]
    assert torch.equal(ours, plain)
    assert ours.shape[-2:] == (HEIGHT // 2, WIDTH // 2), "the runner keeps the image's width and height"


def test_kandinsky_all_keep_map_returns_the_encoded_image():
    pipe, embeddings = tiny.kandinsky_22()
    ours = Kandinsky22(pipe)(
        picture(), KEEP, steps=STEPS, strength=STRENGTH, seed=SEED, width=WIDTH, height=HEIGHT, output_type="latent", **embeddings
    )
    encoded = pipe.movq.encode(pipe.image_processor.preprocess(picture(), HEIGHT, WIDTH))["latents"]
    assert torch.equal(ours, encoded[0])


def test_kandinsky_prompt_goes_through_the_prior_then_the_decoder(tmp_path):
    pipe, _ = tiny.kandinsky_22()
    prior = tiny.kandinsky_22_prior(tmp_path)
    runner = Kandinsky22(pipe, prior)
    ours = runner(
        picture(),
        CHANGE,
        "a cat",
        negative_prompt="dog",
        steps=3,
        prior_steps=2,
        seed=SEED,
        width=WIDTH,
        height=HEIGHT,
        output_type="latent",
    )
    embeds = prior(prompt="a cat", negative_prompt="dog", num_inference_steps=2, guidance_scale=4.0, generator=generator())
    direct = runner(
        picture(),
        CHANGE,
        image_embeds=embeds.image_embeds,
        negative_image_embeds=embeds.negative_image_embeds,
        steps=3,
        seed=SEED,
        width=WIDTH,
        height=HEIGHT,
        output_type="latent",
    )
    assert torch.equal(ours, direct)


def test_kandinsky_without_prior_needs_embeddings():
    pipe, _ = tiny.kandinsky_22()
    with pytest.raises(ValueError, match="prior"):
        Kandinsky22(pipe)(picture(), KEEP, "a prompt", width=WIDTH, height=HEIGHT)


# --- DeepFloyd IF -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def deepfloyd():
    return tiny.deepfloyd_if()


def if_options():
    return dict(steps=STEPS, stage_2_steps=4, strength=STRENGTH, seed=SEED)


def test_if_all_change_map_is_both_diffusers_stages_bit_for_bit(deepfloyd):
    stage_1, stage_2, embeddings = deepfloyd
    ours = DeepFloydIF(stage_1, stage_2)(picture(), CHANGE, output_type="pt", **if_options(), **embeddings)
    common = dict(strength=STRENGTH, generator=None, output_type="pt", **embeddings)
    small = stage_1(image=picture(), num_inference_steps=STEPS, guidance_scale=10.0, **{**common, "generator": generator()}).images
    large = stage_2(
        image=small,
        original_image=picture(),
        num_inference_steps=4,
        guidance_scale=4.0,
        noise_level=250,
        **{**common, "generator": generator()},
    ).images
    assert torch.equal(ours, large[0])


def test_if_all_keep_map_returns_the_input_pixels_at_each_stage(deepfloyd):
    stage_1, stage_2, embeddings = deepfloyd
    image = picture()
    ours = DeepFloydIF(stage_1, stage_2)(image, KEEP, output_type="pil", **if_options(), **embeddings)
    assert ours.size == (40, 32)  # stage II's working size: its UNet's 32 px sample size, at the image's aspect
    as_resized = image.resize(ours.size, Image.BICUBIC, reducing_gap=None)
    assert np.array_equal(np.asarray(ours), np.asarray(as_resized))


def test_if_prompt_is_encoded_once_by_stage_i_for_both_stages(tmp_path):
    stage_1, stage_2, _ = tiny.deepfloyd_if(tmp_path)
    runner = DeepFloydIF(stage_1, stage_2)
    ours = runner(picture(), half_keep_map(), "a cat", negative_prompt="dog", output_type="pt", **if_options())
    embeds, negative = stage_1.encode_prompt("a cat", negative_prompt="dog", clean_caption=False)
    direct = runner(picture(), half_keep_map(), prompt_embeds=embeds, negative_prompt_embeds=negative, output_type="pt", **if_options())
    assert torch.equal(ours, direct)


def test_if_stage_iii_upscales_stage_ii_without_a_map(tmp_path):
    stage_1, stage_2, _ = tiny.deepfloyd_if(tmp_path / "t5")
    stage_3 = tiny.upscaler(tmp_path / "clip")
    options = dict(output_type="pt", **if_options())
    upscaled = DeepFloydIF(stage_1, stage_2, stage_3)(
        picture(), half_keep_map(), "a cat", upscale_steps=3, upscale_noise_level=20, **options
    )
    stage_ii = DeepFloydIF(stage_1, stage_2)(picture(), half_keep_map(), "a cat", **options)
    direct = stage_3(
        prompt="a cat",
        image=(stage_ii[None] / 2 + 0.5).clamp(0, 1),
        num_inference_steps=3,
        noise_level=20,
        guidance_scale=9.0,
        generator=generator(),
        output_type="pt",
    ).images[0]
    assert upscaled.shape[-2:] == (64, 80)  # stage II's 32 x 40, doubled by the tiny upscaler
    assert torch.equal(upscaled, direct)


def test_if_maps_are_fitted_to_each_stage(deepfloyd):
    """Stage I edits at 16 px high, stage II at 32 px: the same map, fitted twice, its kept half kept in both."""
    stage_1, stage_2, embeddings = deepfloyd
    sizes = []
    for stage in (stage_1, stage_2):
        run = DifferentialRun(stage, half_keep_map(), pixels_per_latent=1)
        extra = {"original_image": picture(), "image": torch.zeros(1, 3, 16, 24)} if stage is stage_2 else {"image": picture()}
        run(num_inference_steps=3, strength=1.0, generator=generator(), output_type="pt", **extra, **embeddings)
        sizes.append(tuple(run.change.shape))
        assert (run.change[:, : run.change.shape[1] // 2 - 1] == 0).all()
    assert sizes == [(16, 24), (32, 40)]


# --- loading and the command line -------------------------------------------------------------------


@pytest.fixture(scope="module")
def sd_folder(tmp_path_factory):
    """A tiny SD with a tokenizer and text encoder, saved as a local diffusers folder."""
    return tiny.saved_stable_diffusion(tmp_path_factory.mktemp("tiny-sd"))


def test_cli_writes_what_the_python_api_returns(sd_folder, tmp_path):
    from lib_diffdiff.run import main

    picture().save(tmp_path / "in.png")
    gradient = np.tile(np.linspace(0, 255, WIDTH).astype(np.uint8), (HEIGHT, 1))  # strengths between steps: the rules differ
    Image.fromarray(gradient).save(tmp_path / "map.png")
    out = tmp_path / "out" / "edited.png"
    argv = ["sd", "--image", str(tmp_path / "in.png"), "--map", str(tmp_path / "map.png"), "--prompt", "a cat", "--out", str(out)]
    argv += ["--model", str(sd_folder), "--device", "cpu", "--steps", "4", "--strength", "0.9", "--seed", "7", "--negative-prompt", "dog"]
    runner = StableDiffusion.load(str(sd_folder), device="cpu", dtype=torch.float32)
    options = dict(negative_prompt="dog", steps=4, strength=0.9, seed=7)
    written = []
    for flags, rule in (([], CONTINUOUS), (["--stepped-release"], STEPPED)):
        assert main(argv + flags) == 0
        expected = runner(tmp_path / "in.png", tmp_path / "map.png", "a cat", **options, release_rule=rule)
        assert np.array_equal(np.asarray(Image.open(out)), np.asarray(expected)), flags
        written.append(np.asarray(Image.open(out)))
    assert not np.array_equal(*written)


def test_missing_local_weights_name_the_model_and_the_option(tmp_path, capsys):
    """A folder without weights fails at the load with a message that stands on its own."""
    from lib_diffdiff.run import main

    picture().save(tmp_path / "in.png")
    Image.fromarray(half_keep_map()).save(tmp_path / "map.png")
    empty = tmp_path / "empty-model"
    empty.mkdir()
    argv = ["sd", "--image", str(tmp_path / "in.png"), "--map", str(tmp_path / "map.png"), "--prompt", "x", "--out", str(tmp_path / "o.png")]
    assert main([*argv, "--model", str(empty), "--device", "cpu"]) == 3
    message = capsys.readouterr().err
    assert str(empty) in message and "--model PATH" in message
    assert len(message.strip().splitlines()) == 1


def test_offline_cli_error_stands_on_its_own(monkeypatch, tmp_path, capsys):
    """No pointer to a stack trace the user is not shown, nor to Python-only arguments."""
    from huggingface_hub import constants

    from lib_diffdiff.run import main

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    picture().save(tmp_path / "in.png")
    Image.fromarray(half_keep_map()).save(tmp_path / "map.png")
    argv = ["sd", "--image", str(tmp_path / "in.png"), "--map", str(tmp_path / "map.png"), "--prompt", "x", "--out", str(tmp_path / "o.png")]
    assert main([*argv, "--model", "someone/no-such-model", "--device", "cpu"]) == 3
    message = capsys.readouterr().err
    assert "someone/no-such-model" in message and "--model PATH" in message
    assert "stacktrace" not in message and "local_files_only" not in message


def test_offline_hub_id_names_the_model_and_the_option(monkeypatch):
    from huggingface_hub import constants

    from lib_diffdiff.runners import Kandinsky22, WeightsNotFoundError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(WeightsNotFoundError, match="kandinsky-community/kandinsky-2-2-prior.*--prior-model PATH.*HF_HUB_OFFLINE"):
        Kandinsky22.load(device="cpu", dtype=torch.float32)


def test_cli_refuses_a_missing_image_before_loading_anything(tmp_path, capsys):
    from lib_diffdiff.run import main

    argv = [
        "if",
        "--image",
        str(tmp_path / "none.png"),
        "--map",
        str(tmp_path / "none.png"),
        "--prompt",
        "x",
        "--out",
        str(tmp_path / "o.png"),
    ]
    assert main(argv) == 2
    assert "--image" in capsys.readouterr().err


# --- the composite ----------------------------------------------------------------------------------


def test_sd_all_keep_map_saves_the_input_picture_with_the_composite_and_its_round_trip_without(sd):
    image = picture()
    options = dict(steps=STEPS, strength=STRENGTH, seed=SEED, **tiny.text_embeddings())
    kept = StableDiffusion(sd)(image, KEEP, **options)
    assert np.array_equal(np.asarray(kept), np.asarray(image))
    round_trip = StableDiffusion(sd)(image, KEEP, composite=False, **options)
    assert not np.array_equal(np.asarray(round_trip), np.asarray(image))


def test_sd_composite_keeps_strength_0_and_leaves_strength_1_as_decoded(sd):
    image = picture()
    options = dict(steps=STEPS, strength=STRENGTH, seed=SEED, **tiny.text_embeddings())
    ours = np.asarray(StableDiffusion(sd)(image, half_keep_map(), **options))
    plain = np.asarray(StableDiffusion(sd)(image, half_keep_map(), composite=False, **options))
    assert np.array_equal(ours[:, : WIDTH // 2], np.asarray(image)[:, : WIDTH // 2])
    assert np.array_equal(ours[:, WIDTH // 2 :], plain[:, WIDTH // 2 :])


def test_cli_no_composite_writes_the_decoded_picture(sd_folder, tmp_path):
    from lib_diffdiff.run import main

    picture().save(tmp_path / "in.png")
    Image.fromarray(half_keep_map()).save(tmp_path / "map.png")
    out = tmp_path / "edited.png"
    argv = ["sd", "--image", str(tmp_path / "in.png"), "--map", str(tmp_path / "map.png"), "--prompt", "a cat", "--out", str(out)]
    argv += ["--model", str(sd_folder), "--device", "cpu", "--steps", "3", "--seed", "7"]
    runner = StableDiffusion.load(str(sd_folder), device="cpu", dtype=torch.float32)
    for flags, composite in (([], True), (["--no-composite"], False)):
        assert main(argv + flags) == 0
        expected = runner(tmp_path / "in.png", tmp_path / "map.png", "a cat", steps=3, seed=7, composite=composite)
        assert np.array_equal(np.asarray(Image.open(out)), np.asarray(expected)), flags


# --- the fill -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("fill", ["noise", "blur fill"])
def test_sd_fill_never_touches_kept_latent_pixels_and_changes_where_the_map_changes(sd, fill):
    init = torch.randn(1, 4, HEIGHT // 2, WIDTH // 2, generator=torch.Generator().manual_seed(5))
    options = dict(steps=STEPS, strength=STRENGTH, seed=SEED, output_type="latent", **tiny.text_embeddings())
    kept = StableDiffusion(sd)(init, KEEP, fill=fill, **options)
    assert torch.equal(kept, init[0])
    plain = StableDiffusion(sd)(init, half_keep_map(), **options)
    filled = StableDiffusion(sd)(init, half_keep_map(), fill=fill, **options)
    half = WIDTH // 4  # latent columns the map keeps
    assert torch.equal(filled[..., :half], init[0][..., :half])
    assert not torch.equal(filled[..., half:], plain[..., half:])


def test_sd_fill_none_is_the_run_without_a_fill_bit_for_bit(sd):
    options = dict(steps=STEPS, strength=STRENGTH, seed=SEED, output_type="latent", **tiny.text_embeddings())
    assert torch.equal(StableDiffusion(sd)(picture(), CHANGE, fill="none", **options), sd_plain(sd, picture(), tiny.text_embeddings()))


def test_a_bad_fill_is_refused_naming_it(sd, capsys):
    from lib_diffdiff.run import main

    with pytest.raises(ValueError, match="fill"):
        StableDiffusion(sd)(picture(), KEEP, fill="sprinkles", **tiny.text_embeddings())
    with pytest.raises(SystemExit):
        main(["sd", "--image", "x.png", "--map", "m.png", "--prompt", "a", "--out", "o.png", "--fill", "sprinkles"])
    assert "--fill" in capsys.readouterr().err
