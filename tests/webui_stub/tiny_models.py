"""Tiny latent diffusion models for the stand-in: the weight-free posterior-mean denoiser behind the
interface the WebUI's samplers use (`alphas_cumprod`, `apply_model(x_t, t, cond)`, encode/decode).

Kinds: "sd1" (noise prediction), "sd2-v" (v-prediction), "sdxl" (dict conditioning with a pooled
vector), "sd1-inpainting" (9 input channels: the latent plus mask and masked-image latent), and
"sd3" (`TinySD3`: rectified flow, served through its own k-diffusion denoiser).
"""

import k_diffusion.external
import torch
import torch.nn.functional as F

from lib_diffdiff.lab.reference import PosteriorMeanDenoiser, as_flow_denoiser, builtin_images, linear_alphas_cumprod, shifted_flow_sigmas

KINDS = ("sd1", "sd2-v", "sdxl", "sd1-inpainting")
FLOW_KINDS = ("sd3",)


class Inner:
    def __init__(self, conditioning_key):
        self.conditioning_key = conditioning_key


class TinyLatentDiffusion:
    def __init__(self, kind: str = "sd1", latent_size: int = 8, tile: int = 4, observer=None):
        self.kind = kind
        self.parameterization = "v" if kind == "sd2-v" else "eps"
        self.is_sdxl = kind == "sdxl"
        self.model = Inner("hybrid" if kind == "sd1-inpainting" else "crossattn")
        self.alphas_cumprod = linear_alphas_cumprod()
        self.device = torch.device("cpu")
        self.observer = observer  # observer(x_t, t, cond) sees every model call
        self.decoded = []  # every latent batch handed to the decoder, for the tests
        bank = encode_blocks(builtin_images(10, size=latent_size * 8, seed=3))
        self.denoiser = PosteriorMeanDenoiser(bank, tile=tile, spread=0.3)

    def encode_first_stage(self, image):
        return encode_blocks(image)

    def decode_first_stage(self, latent):
        self.decoded.append(latent.clone())
        return F.interpolate(latent[:, :3], scale_factor=8, mode="nearest")

    def get_learned_conditioning(self, prompts):
        tokens = torch.stack([torch.full((3, 4), (sum(map(ord, prompt)) % 17) / 17.0) for prompt in prompts])
        if self.is_sdxl:
            return {"crossattn": tokens, "vector": tokens.mean(1)}
        return tokens

    def apply_model(self, x_t, t, cond):
        if self.observer is not None:
            self.observer(x_t, t, cond)
        t = torch.as_tensor(t, dtype=torch.float32).clamp(0, 999)
        low = t.floor().long()
        alpha = torch.lerp(self.alphas_cumprod[low], self.alphas_cumprod[(low + 1).clamp_max(999)], t - low).view(-1, 1, 1, 1)
        sigma = ((1 - alpha) / alpha).sqrt()
        x = x_t / alpha.sqrt()
        clean = self.denoiser(x, sigma.flatten())
        text = cond["crossattn"] if "crossattn" in cond else cond["c_crossattn"][0]
        clean = clean + 0.05 * torch.tanh(text.mean(dim=(1, 2))).view(-1, 1, 1, 1)
        if self.model.conditioning_key == "hybrid":
            concat = cond["c_concat"][0]
            known = 1.0 - concat[:, :1]
            clean = clean * (1.0 - known) + concat[:, 1:] * known
        eps = (x - clean) / sigma
        if self.parameterization == "v":
            return alpha.sqrt() * eps - (1 - alpha).sqrt() * clean
        return eps


def encode_blocks(image: torch.Tensor) -> torch.Tensor:
    """The stand-in VAE: 8x8 block means of RGB plus their gray level, in [-1, 1]."""
    rgb = F.avg_pool2d(image.float(), 8)
    return torch.cat([rgb, rgb.mean(1, keepdim=True)], dim=1)


class TinySD3:
    """SD3's interface to the WebUI (modules/models/sd3/sd3_model.py, written from its public names and
    the documented formulas): 16 latent channels; `create_denoiser()` gives the k-diffusion samplers a
    discrete schedule over the rectified-flow sigmas s = 3t / (1 + 2t), t = 1/1000 .. 1 (SD3's shift 3);
    `apply_model(x, s, cond)` returns the predicted x0 of x = (1 - s) x0 + s n (here the exact
    posterior mean); `add_noise_to_latent(x, noise, s)` is that noising, which img2img uses for its
    start; `alphas_cumprod` = 1 / (1 + s^2), as SD3 exposes it to the timestep samplers (which then
    call `apply_model` with timesteps, as on SD3 itself)."""

    latent_channels = 16
    shift = 3.0

    def __init__(self, latent_size: int = 8, tile: int = 4, observer=None):
        self.kind = "sd3"
        self.is_sd3, self.is_sdxl = True, False
        self.parameterization = "eps"
        self.cond_stage_key = "txt"
        self.model = Inner("crossattn")
        self.sigmas = shifted_flow_sigmas(self.shift)
        self.alphas_cumprod = 1 / (self.sigmas**2 + 1)
        self.device = torch.device("cpu")
        self.observer = observer
        self.decoded = []
        bank = self.encode_first_stage(builtin_images(10, size=latent_size * 8, seed=3))
        self.denoiser = as_flow_denoiser(PosteriorMeanDenoiser(bank, tile=tile, spread=0.3))

    def create_denoiser(self):
        return FlowDenoiser(self, self.sigmas)

    def add_noise_to_latent(self, x, noise, amount):
        return x * (1 - amount) + noise * amount

    def encode_first_stage(self, image):
        """16 channels: the 4 of `encode_blocks` and three fixed mixes of them."""
        base = encode_blocks(image)
        mixes = [base, base.flip(1), base.roll(1, dims=1) * 0.5, -base]
        return torch.cat(mixes, dim=1)

    def decode_first_stage(self, latent):
        self.decoded.append(latent.clone())
        return F.interpolate(latent[:, :3], scale_factor=8, mode="nearest")

    def get_learned_conditioning(self, prompts):
        tokens = torch.stack([torch.full((3, 4), (sum(map(ord, prompt)) % 17) / 17.0) for prompt in prompts])
        return {"crossattn": tokens, "vector": tokens.mean(1)}

    def apply_model(self, x, sigma, cond):
        if self.observer is not None:
            self.observer(x, sigma, cond)
        clean = self.denoiser(x, torch.as_tensor(sigma, dtype=torch.float32).flatten())
        return clean + 0.05 * torch.tanh(cond["crossattn"].mean(dim=(1, 2))).view(-1, 1, 1, 1)


class FlowDenoiser(k_diffusion.external.DiscreteSchedule):
    """What SD3's `create_denoiser` returns: the discrete flow schedule, forwarding to `apply_model`."""

    def __init__(self, model, sigmas):
        super().__init__(sigmas, quantize=False)
        self.inner_model = model

    def forward(self, input, sigma, **kwargs):
        return self.inner_model.apply_model(input, sigma, **kwargs)


def build_tiny_model(kind: str, **options):
    """A tiny model of `kind` (KINDS or FLOW_KINDS)."""
    return TinySD3(**options) if kind in FLOW_KINDS else TinyLatentDiffusion(kind, **options)
