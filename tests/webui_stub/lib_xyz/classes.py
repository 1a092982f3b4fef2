"""The axis classes of the X/Y/Z plot and the helpers its built-in axes use."""


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
