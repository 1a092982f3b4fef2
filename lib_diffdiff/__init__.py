"""Differential Diffusion engine: change maps, release schedules and injection. Needs no WebUI."""

from .injection import FlowSpace, Injector, SigmaSpace, TimestepSpace
from .maps import CONVENTIONS, RESIZE_MODES, WHITE_CHANGES, WHITE_KEEPS, MapError, MapOptions, map_hash, prepare_change_map, read_map
from .schedule import ReleaseSchedule

__all__ = [
    "CONVENTIONS",
    "RESIZE_MODES",
    "WHITE_CHANGES",
    "WHITE_KEEPS",
    "FlowSpace",
    "Injector",
    "MapError",
    "MapOptions",
    "ReleaseSchedule",
    "SigmaSpace",
    "TimestepSpace",
    "map_hash",
    "prepare_change_map",
    "read_map",
]
