"""Stand-in for modules/ui_components.py: InputAccordion.

In the WebUI it is an input whose value is whether the accordion is open: a hidden checkbox (the
component scripts receive) that an accordion shows and follows. Used as a context manager, its
content goes into the accordion.
"""

import itertools

import gradio as gr

_unnamed = itertools.count()


class InputAccordion(gr.Checkbox):
    def __init__(self, value, **kwargs):
        self.accordion_id = kwargs.get("elem_id") or f"input-accordion-{next(_unnamed)}"
        checkbox = dict(kwargs, elem_id=self.accordion_id + "-checkbox", visible=False)
        super().__init__(value, **checkbox)
        panel = dict(kwargs, elem_id=self.accordion_id, open=value)
        panel.setdefault("label", "Accordion")
        self.accordion = gr.Accordion(**panel)

    def __enter__(self):
        self.accordion.__enter__()
        return self

    def __exit__(self, *exc_info):
        self.accordion.__exit__(*exc_info)

    def get_block_name(self):
        return "checkbox"  # gradio renders it as the checkbox it is
