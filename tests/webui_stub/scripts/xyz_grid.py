"""Stand-in for scripts/xyz_grid.py of A1111, Forge and ersatzForge: the X/Y/Z plot (lib_xyz/plot.py)
with its axis classes and its list of axes in the script module, where extensions look for them."""

from lib_xyz.classes import AxisOption, AxisOptionImg2Img, AxisOptionTxt2Img  # noqa: F401
from lib_xyz.plot import GridScript, builtin_axis_options

axis_options = builtin_axis_options()


class Script(GridScript):
    axis_options = axis_options
