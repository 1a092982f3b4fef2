"""Stand-in for modules/sd_models.py: checkpoints by name, for the refiner switch.

A test registers a model under a title; a job names it in `refiner_checkpoint`. Loading a
checkpoint makes it `shared.sd_model`, which is all the WebUI's switch does as far as a script sees.
"""

from dataclasses import dataclass

from modules import shared


@dataclass(frozen=True)
class CheckpointInfo:
    title: str
    model: object

    @property
    def short_title(self):
        return self.title


checkpoints: dict = {}


def register(title, model) -> CheckpointInfo:
    info = CheckpointInfo(title, model)
    checkpoints[title] = info
    model.sd_checkpoint_info = info
    return info


def get_closet_checkpoint_match(title):  # (sic) the WebUI's name
    return checkpoints.get(title)


def reload_model_weights(info):
    shared.sd_model = info.model
