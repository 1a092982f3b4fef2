"""XYZ plot: our axes appended to the WebUI's loaded X/Y/Z plot script, when it is there."""

from __future__ import annotations

from modules import scripts

from diffdiff_webui.host import current_host
from diffdiff_webui.xyz_axes import register_axes

# The plot script's module name as the hosts load it (A1111, Forge and ersatzForge by file name; Neo's
# built-in extension also as "scripts.xyz_grid").
XYZ_MODULE_NAMES = ("xyz_grid.py", "xyz_grid", "scripts.xyz_grid")


def xyz_grid_module():
    """The loaded X/Y/Z plot module, or None."""
    for data in scripts.scripts_data:
        if data.script_class.__module__ in XYZ_MODULE_NAMES and hasattr(data.module, "axis_options"):
            return data.module
    return None


def register() -> int:
    """Add the axes once all scripts are loaded, as img2img-only axes of this host's plot; without the
    XYZ script, quietly nothing."""
    module = xyz_grid_module()
    return register_axes(module, current_host().xyz_axis_class(module)) if module is not None else 0
