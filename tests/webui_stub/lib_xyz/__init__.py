"""Stand-in of the X/Y/Z plot's code, shared by the layouts of its script: A1111, Forge and ersatzForge keep
the axis classes in scripts/xyz_grid.py itself, Forge Neo in its `lib_xyz` package."""
