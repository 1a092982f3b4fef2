"""Stand-in for the WebUI's scripts/xyz_grid.py (the X/Y/Z plot): its axis options and its cells.

Modelled: an axis's values come from its dropdown when it has choices, else from comma-separated
text; each value is converted with the axis's type and the whole list goes through the axis's
`confirm` before any cell runs; every cell is a shallow copy of the job (so the cells share the
job's containers, e.g. `extra_generation_params`) on which x, y and z are applied in that order.
Left out: number ranges ("1-5", "1:5:2"), seed variation, the grid picture and its legends' layout.
"""

import csv
from copy import copy
from itertools import product

from modules import processing, scripts


def apply_field(field):
    def apply(p, value, values):
        setattr(p, field, value)

    return apply


def do_nothing(p, value, values):
    pass


def format_value_add_label(p, opt, x):
    return f"{opt.label}: {round(x, 8) if isinstance(x, float) else x}"


def format_nothing(p, opt, x):
    return ""


class AxisOption:
    """What an axis sweeps: `apply(p, value, all_values)` sets one value on a cell's job."""

    def __init__(self, label, type, apply, format_value=format_value_add_label, confirm=None, cost=0.0, choices=None, prepare=None):
        self.label, self.type, self.apply = label, type, apply
        self.format_value, self.confirm, self.prepare = format_value, confirm, prepare
        self.cost, self.choices = cost, choices


class AxisOptionImg2Img(AxisOption):
    is_img2img = True


class AxisOptionTxt2Img(AxisOption):
    is_img2img = False


axis_options = [
    AxisOption("Nothing", str, do_nothing, format_value=format_nothing),
    AxisOption("Seed", int, apply_field("seed")),
    AxisOption("Steps", int, apply_field("steps")),
    AxisOptionImg2Img("Denoising", float, apply_field("denoising_strength")),
]


def axis_values(p, option, text, dropdown):
    if option is axis_options[0]:
        return [None]
    if option.choices is not None:
        raw = list(dropdown or [])
    else:
        raw = [item.strip() for row in csv.reader([text], skipinitialspace=True) for item in row]
    if option.type in (int, float):
        raw = [item for item in raw if str(item).strip()]
    values = [option.type(item) for item in raw]
    if option.confirm is not None:
        option.confirm(p, values)
    return values


class Script(scripts.Script):
    def title(self):
        return "X/Y/Z plot"

    def run_grid(self, p, x_opt, x_values, y_opt=None, y_values="", z_opt=None, z_values="", x_dropdown=None, y_dropdown=None, z_dropdown=None):
        """Every cell, z slowest and x fastest: (processed, the cell's job, (x, y, z), legends)."""
        options = [x_opt, y_opt or axis_options[0], z_opt or axis_options[0]]
        lists = [axis_values(p, option, text, dropdown) for option, text, dropdown in zip(options, (x_values, y_values, z_values), (x_dropdown, y_dropdown, z_dropdown))]
        cells = []
        for z, y, x in product(*reversed(lists)):
            job = copy(p)
            for option, value, values in zip(options, (x, y, z), lists):
                option.apply(job, value, values)
            result = processing.process_images(job)
            cells.append((result, job, (x, y, z), [option.format_value(p, option, value) for option, value in zip(options, (x, y, z))]))
        return cells
