"""XYZ plot: our axes appended to the WebUI's loaded scripts/xyz_grid.py, when it is there."""

from __future__ import annotations

from modules import scripts

from diffdiff_webui.xyz_axes import register_axes


def xyz_grid_module():
    """The loaded xyz_grid module (the WebUI imports scripts under their file name), or None."""
    for data in scripts.scripts_data:
        if data.script_class.__module__ in ("xyz_grid.py", "xyz_grid") and hasattr(data.module, "axis_options"):
            return data.module
    return None


def register() -> int:
    """Add the axes once all scripts are loaded; without the XYZ script, quietly nothing."""
    module = xyz_grid_module()
    return register_axes(module) if module is not None else 0
