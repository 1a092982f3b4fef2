"""The img2img controls, one per entry of SETTINGS, in SETTINGS order (the enable flag is the accordion)."""

from __future__ import annotations

import html
import json

import gradio as gr
from modules import shared
from modules.ui_components import InputAccordion

from lib_diffdiff.params import SETTINGS, Setting

TITLE = "Differential Diffusion"
ELEM_PREFIX = "diffdiff_img2img"
RADIO_MAX_CHOICES = 4  # more choices than this get a dropdown
OPTION_DEFAULTS = {"convention": "diffdiff_convention"}  # settings whose default comes from the Settings tab
PREVIEW_OPTION = "diffdiff_preview"


def elem_id(setting: Setting) -> str:
    return f"{ELEM_PREFIX}_{setting.name}"


def default_of(setting: Setting):
    option = OPTION_DEFAULTS.get(setting.name)
    value = getattr(shared.opts, option, setting.default) if option else setting.default
    return value if option is None or value in setting.choices else setting.default


def component_for(setting: Setting):
    """The gradio component of one setting, chosen by its kind."""
    common = {"label": setting.label, "elem_id": elem_id(setting)}
    if setting.kind is bool:
        return gr.Checkbox(value=default_of(setting), **common)
    if setting.kind is float:
        return gr.Slider(minimum=setting.minimum, maximum=setting.maximum, step=setting.step, value=default_of(setting), **common)
    if setting.kind is str:
        kind = gr.Radio if len(setting.choices) <= RADIO_MAX_CHOICES else gr.Dropdown
        return kind(choices=list(setting.choices), value=default_of(setting), **common)
    return gr.Image(type="pil", image_mode="L", source="upload", interactive=True, **common)


def build() -> list:
    """The components whose values reach process(), in SETTINGS order."""
    enabled, *rest = SETTINGS
    with InputAccordion(enabled.default, label=TITLE, elem_id=elem_id(enabled)) as accordion:
        components = [accordion]
        for setting in rest:
            components.append(component_for(setting))
        tooltips = {elem_id(setting): setting.tooltip for setting in SETTINGS}
        gr.HTML(
            f'<div id="{ELEM_PREFIX}_tooltips" data-tooltips="{html.escape(json.dumps(tooltips))}" hidden></div>'
            f'<canvas id="{ELEM_PREFIX}_preview" class="diffdiff-preview"></canvas>',
            elem_id=f"{ELEM_PREFIX}_preview_box",
        )
    return components


def infotext_fields(components: list) -> list[tuple]:
    """(component, infotext key) pairs, so saved parameters paste back into the controls."""
    return [(component, setting.infotext) for component, setting in zip(components, SETTINGS) if setting.infotext]


def register_options() -> None:
    """The Settings tab section: defaults for new jobs and the live preview switch."""
    section = ("diffdiff", TITLE)
    convention = next(setting for setting in SETTINGS if setting.name == "convention")
    shared.opts.add_option(
        OPTION_DEFAULTS["convention"],
        shared.OptionInfo(
            convention.default, "Default map convention", gr.Radio, {"choices": list(convention.choices)}, section=section
        ).needs_reload_ui(),
    )
    shared.opts.add_option(
        PREVIEW_OPTION,
        shared.OptionInfo(True, "Show a live preview of the effective map over the init image", section=section),
    )
