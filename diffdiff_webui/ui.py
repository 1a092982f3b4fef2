"""The img2img controls, one per entry of SETTINGS, in SETTINGS order (the enable flag is the accordion)."""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass, field

import gradio as gr
from modules import shared
from modules.ui_components import InputAccordion

from lib_diffdiff.errors import SettingsError
from lib_diffdiff.params import BY_NAME, SETTINGS, UPLOAD, Setting, Settings

from .geometry import uploaded_map_hash
from .job import MAP_HASH_KEY

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


def shown_for(setting: Setting, source: str) -> bool:
    """Whether the control of `setting` is shown while the map source is `source`."""
    return setting.only_for_source in (None, source)


def component_for(setting: Setting):
    """The gradio component of one setting, chosen by its kind."""
    common = {"label": setting.label, "elem_id": elem_id(setting), "visible": shown_for(setting, BY_NAME["source"].default)}
    if setting.kind is bool:
        return gr.Checkbox(value=default_of(setting), **common)
    if setting.kind is float:
        return gr.Slider(minimum=setting.minimum, maximum=setting.maximum, step=setting.step, value=default_of(setting), **common)
    if setting.kind is str:
        kind = gr.Radio if len(setting.choices) <= RADIO_MAX_CHOICES else gr.Dropdown
        return kind(choices=list(setting.choices), value=default_of(setting), **common)
    return gr.Image(type="pil", image_mode="L", source="upload", interactive=True, **common)


@dataclass(frozen=True)
class Controls:
    """What build() made: the controls whose values reach process(), and the WebUI's paste fields."""

    components: list  # in SETTINGS order
    infotext_fields: list  # (component, function of the pasted parameters), as WebUI scripts give them


def build() -> Controls:
    """The controls in SETTINGS order, a status line for pasted parameters, and the live preview."""
    enabled, *rest = SETTINGS
    with InputAccordion(enabled.default, label=TITLE, elem_id=elem_id(enabled)) as accordion:
        components = [accordion]
        for setting in rest:
            components.append(component_for(setting))
        # what the last paste asked for (ignored entries, the map hash), for the status line below
        pasted = gr.Textbox(value="", visible=False, elem_id=f"{ELEM_PREFIX}_pasted")
        status = gr.Markdown("", elem_id=f"{ELEM_PREFIX}_paste_status")
        tooltips = {elem_id(setting): setting.tooltip for setting in SETTINGS}
        defaults = {setting.name: default_of(setting) for setting in SETTINGS if setting.kind is not object}  # the preview's
        gr.HTML(
            f'<div id="{ELEM_PREFIX}_tooltips" data-tooltips="{html.escape(json.dumps(tooltips))}"'
            f' data-defaults="{html.escape(json.dumps(defaults))}" hidden></div>'
            f'<canvas id="{ELEM_PREFIX}_preview" class="diffdiff-preview"></canvas>',
            elem_id=f"{ELEM_PREFIX}_preview_box",
        )
    by_name = dict(zip(BY_NAME, components))
    # the fan's controls only for the strength fan, the map only for an upload
    dependent = [setting for setting in SETTINGS if setting.only_for_source]
    by_name["source"].change(
        fn=lambda source: [gr.update(visible=shown_for(setting, source)) for setting in dependent],
        inputs=[by_name["source"]],
        outputs=[by_name[setting.name] for setting in dependent],
        show_progress=False,
    )
    status_inputs = [pasted, by_name["source"], by_name["map"]]
    for trigger in status_inputs:
        trigger.change(fn=paste_status, inputs=status_inputs, outputs=[status], show_progress=False)
    fields = [(component, paste_function(setting)) for component, setting in zip(components, SETTINGS) if setting.infotext]
    fields.append((pasted, lambda params: read_pasted(params, report=True).to_json()))
    return Controls(components, fields)


@dataclass(frozen=True)
class Pasted:
    """What pasted generation parameters mean for the controls."""

    values: dict  # setting name -> the control's new value; a name left out leaves its control alone
    ignored: list = field(default_factory=list)  # one line per pasted entry that could not be used as written
    map_hash: str = ""  # the change map the pasted job used, when it came from an upload

    def to_json(self) -> str:
        return json.dumps({"ignored": self.ignored, "map_hash": self.map_hash})


def read_pasted(params: dict, report: bool = False) -> Pasted:
    """The controls' values for pasted parameters, so that Generate runs the pasted job again.

    Without `DiffDiff: True` the extension is turned off and the other controls are left alone. With
    it, a setting whose key is missing (an older version wrote it) takes its default (or the value jobs had
    before the setting existed: the stepped release), and a value its
    control cannot hold takes the default, or the nearest end of the range for a number out of range,
    and is named in `ignored` (printed to the console when `report`).
    """
    enabled = BY_NAME["enabled"]
    written = params.get(enabled.infotext)
    ignored = []
    try:
        on = written is not None and enabled.parse(written)
    except SettingsError as error:
        on = False
        ignored.append(f"{enabled.infotext}: {written} ({error}); the extension was turned off")
    if on:
        pasted = _pasted_job(params)
    else:
        pasted = Pasted({enabled.name: False}, ignored)
    if report:
        for line in pasted.ignored:
            print(f"{TITLE}: ignored pasted {line}")
    return pasted


def _pasted_job(params: dict) -> Pasted:
    values, ignored = {}, []
    for setting in SETTINGS:
        if setting.infotext in params:
            values[setting.name], note = pasted_value(setting, params[setting.infotext])
            if note:
                ignored.append(note)
        elif setting.infotext:
            values[setting.name] = setting.default if setting.before is None else setting.before
    try:  # the checks that span settings (a whole number of fan parts)
        Settings(**values).fan_options()
    except SettingsError as error:
        setting = BY_NAME[error.field]
        ignored.append(f"{setting.infotext}: {params[setting.infotext]} ({error}); set to the default {setting.default:g}")
        values[setting.name] = setting.default
    digest = params.get(MAP_HASH_KEY, "") if values["source"] == UPLOAD else ""
    return Pasted(values, ignored, str(digest))


def pasted_value(setting: Setting, written) -> tuple:
    """One pasted value for its control, and a note when it could not be used as written."""
    try:
        return setting.parse(written), None
    except SettingsError as error:
        problem = f"{setting.infotext}: {written} ({error})"
    if setting.kind is float:
        try:
            number = float(written)
        except ValueError:
            number = math.nan
        if math.isfinite(number):
            clamped = min(max(number, setting.minimum), setting.maximum)
            return clamped, f"{problem}; set to {clamped:g}"
    return setting.default, f"{problem}; set to the default {setting.default}"


def paste_function(setting: Setting):
    """The infotext field of one control: its value from pasted parameters (None leaves it alone)."""
    return lambda params: read_pasted(params).values.get(setting.name)


def paste_status(pasted: str, source: str, map_image) -> str:
    """The accordion's note on the last paste: the entries ignored, and whether the uploaded map is the pasted job's."""
    state = json.loads(pasted) if pasted else {"ignored": [], "map_hash": ""}
    lines = [f"Ignored when pasting: `{line}`" for line in state["ignored"]]
    wanted = state["map_hash"]
    if wanted and source == UPLOAD:
        if map_image is None:
            lines.append(f"The pasted generation used the change map with hash `{wanted}`: upload that map.")
        else:
            try:
                digest = uploaded_map_hash(map_image)
            except SettingsError as error:
                digest = f"unreadable ({error})"
            if digest == wanted:
                lines.append(f"The uploaded change map matches the pasted hash `{wanted}`.")
            else:
                lines.append(f"The change map with hash `{wanted}` is needed; the uploaded one has hash `{digest}`.")
    return "\n\n".join(lines)


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
