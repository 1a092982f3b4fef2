"""The X/Y/Z plot itself: its built-in axes and its cells (the script files only lay it out).

Modelled: an axis's values come from its dropdown when it has choices, else from comma-separated
text; each value is converted with the axis's type and the whole list goes through the axis's
`confirm` before any cell runs; every cell is a shallow copy of the job (so the cells share the
job's containers, e.g. `extra_generation_params`) on which x, y and z are applied in that order.
Left out: number ranges ("1-5", "1:5:2"), seed variation, the grid picture and its legends' layout.
"""

import csv
from copy import copy
from itertools import product

from lib_xyz.classes import AxisOption, AxisOptionImg2Img, apply_field, do_nothing, format_nothing
from modules import processing, scripts


def builtin_axis_options() -> list:
    """A new list of the built-in axes for each load of the script (extensions append theirs to it)."""
    return [
        AxisOption("Nothing", str, do_nothing, format_value=format_nothing),
        AxisOption("Seed", int, apply_field("seed")),
        AxisOption("Steps", int, apply_field("steps")),
        AxisOptionImg2Img("Denoising", float, apply_field("denoising_strength")),
    ]


def axis_values(p, option, text, dropdown, nothing):
    if option is nothing:
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


class GridScript(scripts.Script):
    """The plot's script; a layout defines `Script` from it in its own file, with its `axis_options`."""

    axis_options: list

    def title(self):
        return "X/Y/Z plot"

    def run_grid(self, p, x_opt, x_values, y_opt=None, y_values="", z_opt=None, z_values="", x_dropdown=None, y_dropdown=None, z_dropdown=None):
        """Every cell, z slowest and x fastest: (processed, the cell's job, (x, y, z), legends)."""
        nothing = self.axis_options[0]
        options = [x_opt, y_opt or nothing, z_opt or nothing]
        texts, dropdowns = (x_values, y_values, z_values), (x_dropdown, y_dropdown, z_dropdown)
        lists = [axis_values(p, option, text, dropdown, nothing) for option, text, dropdown in zip(options, texts, dropdowns)]
        cells = []
        for z, y, x in product(*reversed(lists)):
            job = copy(p)
            for option, value, values in zip(options, (x, y, z), lists):
                option.apply(job, value, values)
            result = processing.process_images(job)
            cells.append((result, job, (x, y, z), [option.format_value(p, option, value) for option, value in zip(options, (x, y, z))]))
        return cells
