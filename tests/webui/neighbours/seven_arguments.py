"""Another always-on script, shaped like the WebUI's built-in Soft inpainting (an accordion and six
more controls, a `process` that names all seven), which records what each of its hooks receives."""

import gradio as gr
from modules import scripts
from modules.ui_components import InputAccordion

TITLE = "Seven arguments"
DEFAULTS = (False, 1.0, 0.5, 4.0, 0.0, 0.5, 2.0)
received: list[tuple[str, tuple]] = []  # (hook, arguments) in call order


class SevenArguments(scripts.Script):
    def title(self):
        return TITLE

    def show(self, is_img2img):
        return scripts.AlwaysVisible

    def ui(self, is_img2img):
        with InputAccordion(DEFAULTS[0], label=TITLE) as enabled:
            sliders = [gr.Slider(minimum=0.0, maximum=8.0, value=value, label=f"knob {n}") for n, value in enumerate(DEFAULTS[1:], 1)]
        return [enabled, *sliders]

    def process(self, p, enabled, power, scale, detail, inner, threshold, clamp):
        received.append(("process", (enabled, power, scale, detail, inner, threshold, clamp)))

    def post_sample(self, p, ps, *args):
        received.append(("post_sample", args))

    def postprocess(self, p, processed, *args):
        received.append(("postprocess", args))
