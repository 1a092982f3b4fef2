"""Stand-in for Forge Neo's xyz_grid.py (extensions-builtin/xyz): the same plot, but the script module
holds only the plain axis class and the list of axes; the img2img-only class stays in `lib_xyz.classes`."""

from lib_xyz.classes import AxisOption  # noqa: F401
from lib_xyz.plot import GridScript, builtin_axis_options

axis_options = builtin_axis_options()


class Script(GridScript):
    axis_options = axis_options
