"""modules/shared.py: the options, the job state and the loaded model."""

import torch

from modules.options import OptionInfo, Options  # noqa: F401  (extensions use shared.OptionInfo)

device = torch.device("cpu")

opts = Options(
    {
        "img2img_fix_steps": OptionInfo(False),
        "initial_noise_multiplier": OptionInfo(1.0),
        "img2img_background_color": OptionInfo("#ffffff"),
        "overlay_inpaint": OptionInfo(True),
        "batch_cond_uncond": OptionInfo(True),
        "always_discard_next_to_last_sigma": OptionInfo(False),
        "sigma_min": OptionInfo(0.0),
        "sigma_max": OptionInfo(0.0),
        "rho": OptionInfo(0.0),
        "eta_ancestral": OptionInfo(1.0),
        "beta_dist_alpha": OptionInfo(0.6),
        "beta_dist_beta": OptionInfo(0.6),
        "uni_pc_skip_type": OptionInfo("time_uniform"),
    }
)


class State:
    """modules/shared_state.State: what the interrupt button and the progress bar see."""

    def __init__(self):
        self.begin()

    def begin(self, job: str = ""):
        self.interrupted = False
        self.skipped = False
        self.stopping_generation = False
        self.job = job
        self.job_count = -1
        self.sampling_step = 0
        self.sampling_steps = 0

    def interrupt(self):
        self.interrupted = True

    def end(self):
        self.job = ""


state = State()
sd_model = None  # set by the tests: a models.TinyLatentDiffusion
