"""Tiny random-weight diffusers pipelines built in code (no downloads), with the embeddings to call them.

Text encoders and tokenizers are left out: the pipelines take prompt (or image) embeddings directly.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from diffusers import (
    AutoencoderKL,
    DDIMScheduler,
    DDPMScheduler,
    FlowMatchEulerDiscreteScheduler,
    FluxImg2ImgPipeline,
    FluxTransformer2DModel,
    IFImg2ImgPipeline,
    IFImg2ImgSuperResolutionPipeline,
    KandinskyV22Img2ImgPipeline,
    KandinskyV22PriorPipeline,
    PriorTransformer,
    SD3Transformer2DModel,
    StableDiffusion3Img2ImgPipeline,
    StableDiffusionImg2ImgPipeline,
    StableDiffusionUpscalePipeline,
    StableDiffusionXLImg2ImgPipeline,
    UnCLIPScheduler,
    UNet2DConditionModel,
    VQModel,
)
from transformers import (
    CLIPImageProcessor,
    CLIPTextConfig,
    CLIPTextModel,
    CLIPTextModelWithProjection,
    CLIPTokenizer,
    CLIPVisionConfig,
    CLIPVisionModelWithProjection,
    T5Config,
    T5EncoderModel,
)

TEXT_DIM = 16


def _seeded(build):
    torch.manual_seed(0)
    return build().eval()


def _quiet(pipe):
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _unet(**config):
    base = dict(
        block_out_channels=(8, 16),
        layers_per_block=1,
        norm_num_groups=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=TEXT_DIM,
        attention_head_dim=2,
        sample_size=8,
    )
    base.update(config)
    return _seeded(lambda: UNet2DConditionModel(**base))


def _vae(scaling_factor=0.18215, shift_factor=None):
    return _seeded(
        lambda: AutoencoderKL(
            block_out_channels=(8, 8),
            norm_num_groups=4,
            in_channels=3,
            out_channels=3,
            down_block_types=("DownEncoderBlock2D",) * 2,
            up_block_types=("UpDecoderBlock2D",) * 2,
            latent_channels=4,
            layers_per_block=1,
            force_upcast=False,
            scaling_factor=scaling_factor,
            shift_factor=shift_factor,
        )
    )


def _embeds(*shape, seed):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def text_embeddings(tokens=4, dim=TEXT_DIM):
    return {"prompt_embeds": _embeds(1, tokens, dim, seed=1), "negative_prompt_embeds": _embeds(1, tokens, dim, seed=2)}


def clip_text(folder: Path, encoder=CLIPTextModel, hidden_size=TEXT_DIM):
    """A letter-level CLIP tokenizer (files written to `folder`) and a one-layer CLIP text encoder."""
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for letter in "abcdefghijklmnopqrstuvwxyz":
        vocab[letter] = len(vocab)
        vocab[letter + "</w>"] = len(vocab)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=8)
    config = CLIPTextConfig(
        vocab_size=len(vocab),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=1,
        num_attention_heads=2,
        max_position_embeddings=8,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
        projection_dim=hidden_size,
    )
    return tokenizer, _seeded(lambda: encoder(config))


def stable_diffusion(scheduler=None, text=None):
    """SD img2img with a 2-level VAE (latents at 1/2 size) and DDIM unless told otherwise.

    `text`: (tokenizer, text encoder) for prompts; without it the pipeline takes prompt embeddings only.
    """
    tokenizer, text_encoder = text or (None, None)
    return _quiet(
        StableDiffusionImg2ImgPipeline(
            vae=_vae(),
            text_encoder=text_encoder,
            tokenizer=tokenizer,
            unet=_unet(in_channels=4, out_channels=4),
            scheduler=scheduler
            or DDIMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, clip_sample=False, steps_offset=1),
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
    )


def saved_stable_diffusion(folder: Path) -> Path:
    """A tiny SD with a tokenizer and text encoder, saved as a local diffusers folder (what `--model PATH` loads)."""
    stable_diffusion(text=clip_text(folder / "vocab")).save_pretrained(folder / "model")
    return folder / "model"


def stable_diffusion_xl(text_folder: Path | None = None):
    """SDXL img2img and prompt embeddings; with `text_folder`, also its two letter tokenizers and CLIP text encoders for prompts."""
    pooled = 8
    unet = _unet(
        in_channels=4,
        out_channels=4,
        addition_embed_type="text_time",
        addition_time_embed_dim=4,
        projection_class_embeddings_input_dim=6 * 4 + pooled,
        transformer_layers_per_block=1,
    )
    text_encoders = (None,) * 4
    if text_folder is not None:  # the UNet reads both encoders' hidden states side by side, and the second's projection as pooled
        half = TEXT_DIM // 2
        text_encoders = (*clip_text(text_folder / "1", hidden_size=half), *clip_text(text_folder / "2", CLIPTextModelWithProjection, half))
    pipe = _quiet(
        StableDiffusionXLImg2ImgPipeline(
            vae=_vae(),
            text_encoder=text_encoders[1],
            text_encoder_2=text_encoders[3],
            tokenizer=text_encoders[0],
            tokenizer_2=text_encoders[2],
            unet=unet,
            scheduler=DDIMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, clip_sample=False, steps_offset=1),
            requires_aesthetics_score=False,
            force_zeros_for_empty_prompt=False,
        )
    )
    embeddings = text_embeddings()
    embeddings["pooled_prompt_embeds"] = _embeds(1, pooled, seed=3)
    embeddings["negative_pooled_prompt_embeds"] = _embeds(1, pooled, seed=4)
    return pipe, embeddings


KANDINSKY_IMAGE_DIM = 12


def kandinsky_22_prior(folder: Path):
    """Kandinsky 2.2's prior: CLIP text and image encoders projecting to the decoder's image embedding size."""
    tokenizer, text_encoder = clip_text(folder, CLIPTextModelWithProjection, hidden_size=KANDINSKY_IMAGE_DIM)
    vision = CLIPVisionConfig(
        hidden_size=TEXT_DIM,
        intermediate_size=2 * TEXT_DIM,
        num_hidden_layers=1,
        num_attention_heads=2,
        image_size=16,
        patch_size=8,
        projection_dim=KANDINSKY_IMAGE_DIM,
    )
    prior = _seeded(
        lambda: PriorTransformer(
            num_attention_heads=2, attention_head_dim=6, embedding_dim=KANDINSKY_IMAGE_DIM, num_embeddings=8, num_layers=1
        )
    )
    return _quiet(
        KandinskyV22PriorPipeline(
            prior=prior,
            image_encoder=_seeded(lambda: CLIPVisionModelWithProjection(vision)),
            text_encoder=text_encoder,
            tokenizer=tokenizer,
            scheduler=UnCLIPScheduler(variance_type="fixed_small_log", prediction_type="sample", clip_sample=True, clip_sample_range=10.0),
            image_processor=CLIPImageProcessor(crop_size=16, size=16),
        )
    )


def kandinsky_22():
    """Kandinsky 2.2's decoder with a 2-level MoVQ, and image embeddings in place of the prior's."""
    image_dim = KANDINSKY_IMAGE_DIM
    unet = _unet(
        in_channels=4,
        out_channels=8,
        addition_embed_type="image",
        encoder_hid_dim=image_dim,
        encoder_hid_dim_type="image_proj",
    )
    movq = _seeded(
        lambda: VQModel(
            block_out_channels=(32, 32),  # MoVQ's spatial norms use 32 groups
            down_block_types=("DownEncoderBlock2D",) * 2,
            up_block_types=("UpDecoderBlock2D",) * 2,
            in_channels=3,
            out_channels=3,
            latent_channels=4,
            layers_per_block=1,
            norm_num_groups=8,
            norm_type="spatial",
            num_vq_embeddings=12,
            vq_embed_dim=4,
        )
    )
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, clip_sample=False, set_alpha_to_one=False, steps_offset=1)
    pipe = _quiet(KandinskyV22Img2ImgPipeline(unet=unet, scheduler=scheduler, movq=movq))
    return pipe, {"image_embeds": _embeds(1, image_dim, seed=5), "negative_image_embeds": _embeds(1, image_dim, seed=6)}


def _if_scheduler():
    return DDPMScheduler(
        beta_schedule="squaredcos_cap_v2",
        thresholding=True,
        dynamic_thresholding_ratio=0.95,
        sample_max_value=1.0,
        variance_type="learned_range",
    )


def deepfloyd_if(text_folder: Path | None = None):
    """IF stage I (16 px) and stage II (32 px) img2img pipelines on pixels.

    With `text_folder`, stage I gets a letter tokenizer (77 tokens, as IF pads to) and a one-layer T5 encoder.
    """
    tokenizer = text_encoder = None
    if text_folder is not None:
        tokenizer, _ = clip_text(text_folder)
        tokenizer.model_max_length = 77
        config = T5Config(vocab_size=len(tokenizer), d_model=TEXT_DIM, d_kv=8, d_ff=2 * TEXT_DIM, num_layers=1, num_heads=2)
        text_encoder = _seeded(lambda: T5EncoderModel(config))
    stage_1 = IFImg2ImgPipeline(
        tokenizer=tokenizer,
        text_encoder=text_encoder,
        unet=_unet(in_channels=3, out_channels=6, sample_size=16),
        scheduler=_if_scheduler(),
        safety_checker=None,
        feature_extractor=None,
        watermarker=None,
        requires_safety_checker=False,
    )
    stage_2 = IFImg2ImgSuperResolutionPipeline(
        tokenizer=None,
        text_encoder=None,
        unet=_unet(in_channels=6, out_channels=6, sample_size=32, class_embed_type="timestep"),
        scheduler=_if_scheduler(),
        image_noising_scheduler=DDPMScheduler(beta_schedule="squaredcos_cap_v2"),
        safety_checker=None,
        feature_extractor=None,
        watermarker=None,
        requires_safety_checker=False,
    )
    return _quiet(stage_1), _quiet(stage_2), text_embeddings()


def upscaler(text_folder: Path):
    """A tiny x4-upscaler-style pipeline (here x2: its VAE has two levels) for IF's optional stage III."""
    tokenizer, text_encoder = clip_text(text_folder)
    unet = _unet(in_channels=7, out_channels=4, num_class_embeds=100, sample_size=16)
    return _quiet(
        StableDiffusionUpscalePipeline(
            vae=_vae(scaling_factor=0.08333),  # the x4 upscaler's
            text_encoder=text_encoder,
            tokenizer=tokenizer,
            unet=unet,
            low_res_scheduler=DDPMScheduler(),
            scheduler=DDIMScheduler(clip_sample=False, steps_offset=1),
            max_noise_level=100,
        )
    )


POOLED_DIM = 8


def flow_text_embeddings():
    """Prompt and pooled embeddings, positive and negative, as SD3 and Flux take them."""
    embeddings = text_embeddings()
    embeddings["pooled_prompt_embeds"] = _embeds(1, POOLED_DIM, seed=3)
    embeddings["negative_pooled_prompt_embeds"] = _embeds(1, POOLED_DIM, seed=4)
    return embeddings


def stable_diffusion_3(scheduler=None):
    """SD3 img2img: a one-layer MMDiT on 2x2 patches over a 2-level VAE (latents at 1/2 size), SD3's
    latent shift and scale, and the flow-matching Euler scheduler with SD3's shift of 3."""
    transformer = _seeded(
        lambda: SD3Transformer2DModel(
            sample_size=32,
            patch_size=2,
            in_channels=4,
            out_channels=4,
            num_layers=1,
            attention_head_dim=8,
            num_attention_heads=2,
            joint_attention_dim=TEXT_DIM,
            caption_projection_dim=16,
            pooled_projection_dim=POOLED_DIM,
            pos_embed_max_size=32,  # patches per side, up to 128 px with this VAE
        )
    )
    return _quiet(
        StableDiffusion3Img2ImgPipeline(
            transformer=transformer,
            scheduler=scheduler or FlowMatchEulerDiscreteScheduler(shift=3.0),
            vae=_vae(scaling_factor=1.5305, shift_factor=0.0609),
            text_encoder=None,
            tokenizer=None,
            text_encoder_2=None,
            tokenizer_2=None,
            text_encoder_3=None,
            tokenizer_3=None,
        )
    )


def flux(scheduler=None):
    """Flux img2img: a one-block (plus one single block) transformer on 2x2-packed latents of a 2-level
    VAE, and the flow-matching Euler scheduler with Flux's resolution-dependent shift."""
    transformer = _seeded(
        lambda: FluxTransformer2DModel(
            patch_size=1,
            in_channels=16,  # 4 latent channels x a 2x2 patch
            num_layers=1,
            num_single_layers=1,
            attention_head_dim=8,
            num_attention_heads=2,
            joint_attention_dim=TEXT_DIM,
            pooled_projection_dim=POOLED_DIM,
            axes_dims_rope=(2, 2, 4),
        )
    )
    scheduler = scheduler or FlowMatchEulerDiscreteScheduler(
        shift=3.0, use_dynamic_shifting=True, base_shift=0.5, max_shift=1.15, base_image_seq_len=256, max_image_seq_len=4096
    )
    return _quiet(
        FluxImg2ImgPipeline(
            transformer=transformer,
            scheduler=scheduler,
            vae=_vae(scaling_factor=0.3611, shift_factor=0.1159),
            text_encoder=None,
            tokenizer=None,
            text_encoder_2=None,
            tokenizer_2=None,
        )
    )
