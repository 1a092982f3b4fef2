"""scripts/xyz_grid.py: the axis options and the per-cell loop of WebUI 1.10's X/Y/Z plot
(value lists from text or dropdowns, confirm, a shallow copy of the job per cell, legends)."""

import csv
from copy import copy
from io import StringIO
from itertools import product

from modules import processing, scripts


def apply_field(field):
    def fun(p, x, xs):
        setattr(p, field, x)

    return fun


def do_nothing(p, x, xs):
    pass


def format_value_add_label(p, opt, x):
    if type(x) is float:
        x = round(x, 8)
    return f"{opt.label}: {x}"


def format_nothing(p, opt, x):
    return ""


def csv_string_to_list_strip(data_str):
    return list(map(str.strip, next(csv.reader(StringIO(data_str), skipinitialspace=True), [])))


class AxisOption:
    def __init__(self, label, type, apply, format_value=format_value_add_label, confirm=None, cost=0.0, choices=None, prepare=None):
        self.label = label
        self.type = type
        self.apply = apply
        self.format_value = format_value
        self.confirm = confirm
        self.cost = cost
        self.prepare = prepare
        self.choices = choices


class AxisOptionImg2Img(AxisOption):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.is_img2img = True


class AxisOptionTxt2Img(AxisOption):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.is_img2img = False


axis_options = [
    AxisOption("Nothing", str, do_nothing, format_value=format_nothing),
    AxisOption("Seed", int, apply_field("seed")),
    AxisOption("Steps", int, apply_field("steps")),
    AxisOptionImg2Img("Denoising", float, apply_field("denoising_strength")),
]


class Script(scripts.Script):
    def title(self):
        return "X/Y/Z plot"

    def show(self, is_img2img):
        return True

    def process_axis(self, opt, vals, vals_dropdown, csv_mode=False):
        if opt.label == "Nothing":
            return [0]
        if opt.choices is not None and not csv_mode:
            valslist = vals_dropdown
        else:
            valslist = csv_string_to_list_strip(vals)
        if opt.type is float:
            valslist = [float(x) for x in valslist if str(x).strip() != ""]
        elif opt.type is int:
            valslist = [int(x) for x in valslist if str(x).strip() != ""]
        valslist = [opt.type(x) for x in valslist]
        if opt.confirm:
            opt.confirm(self.p, valslist)
        return valslist

    def run_grid(
        self, p, x_opt, x_values, y_opt=None, y_values="", z_opt=None, z_values="", x_dropdown=None, y_dropdown=None, z_dropdown=None
    ):
        """The cells in order, each (processed, (x, y, z), legends); the grid image itself is left out."""
        self.p = p
        nothing = axis_options[0]
        y_opt, z_opt = y_opt or nothing, z_opt or nothing
        xs = self.process_axis(x_opt, x_values, x_dropdown)
        ys = self.process_axis(y_opt, y_values, y_dropdown)
        zs = self.process_axis(z_opt, z_values, z_dropdown)
        cells = []
        for z, y, x in product(zs, ys, xs):
            pc = copy(p)
            x_opt.apply(pc, x, xs)
            y_opt.apply(pc, y, ys)
            z_opt.apply(pc, z, zs)
            res = processing.process_images(pc)
            legends = [opt.format_value(p, opt, value) for opt, value in ((x_opt, x), (y_opt, y), (z_opt, z))]
            cells.append((res, pc, (x, y, z), legends))
        return cells
