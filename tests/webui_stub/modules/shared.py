"""Stand-in for modules/shared.py: the settings, the state of the running job, the loaded checkpoint."""

import torch

from modules.options import OptionInfo, Options  # noqa: F401  (extensions reach OptionInfo through shared)

device = torch.device("cpu")

DEFAULTS = {
    "img2img_fix_steps": False,
    "initial_noise_multiplier": 1.0,
    "img2img_background_color": "#ffffff",
    "overlay_inpaint": True,
    "img2img_color_correction": False,
    "batch_cond_uncond": True,
    "always_discard_next_to_last_sigma": False,
    "sigma_min": 0.0,
    "sigma_max": 0.0,
    "rho": 0.0,
    "eta_ancestral": 1.0,
    "beta_dist_alpha": 0.6,
    "beta_dist_beta": 0.6,
    "uni_pc_skip_type": "time_uniform",
}
opts = Options({key: OptionInfo(value) for key, value in DEFAULTS.items()})


class State:
    """What the interrupt and skip buttons set and the progress bar reads (modules/shared_state.py)."""

    def __init__(self):
        self.begin()

    def begin(self, job: str = ""):
        self.job, self.job_count = job, -1
        self.interrupted = self.skipped = self.stopping_generation = False
        self.sampling_step = self.sampling_steps = 0

    def interrupt(self):
        self.interrupted = True

    def end(self):
        self.job = ""


state = State()
sd_model = None  # the loaded checkpoint: the tests load a tiny_models.TinyLatentDiffusion
