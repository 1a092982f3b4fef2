"""What the command lines share: help that shows every default, one-line errors that name the flag,
and checks of numbers, files and output places made before any slow work starts."""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

from PIL import Image

from . import images
from .errors import SettingsError


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Appends "(default: ...)" to every optional flag's help, unless the help already says its default
    or that the flag (or one of its group) is required."""

    def _get_help_string(self, action):
        if action.required or any(word in (action.help or "") for word in ("default", "required")):
            return action.help
        return super()._get_help_string(action)


class ArgumentParser(argparse.ArgumentParser):
    """An argparse parser whose errors are one line on stderr (the usage is one `--help` away)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


class InputError(SettingsError):
    """A command-line value that cannot be used; the message starts with the flag at fault."""

    @property
    def flag(self) -> str:
        return self.field


def fail(prog: str, error: Exception) -> int:
    """Report `error` as one line and give the exit status for bad input."""
    print(f"{prog}: error: {error}", file=sys.stderr)
    return 2


def whole_number(minimum: int, maximum: int | None = None):
    """An argparse type: a whole number from `minimum` to `maximum`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum}, got {value}")
        return value

    parse.__name__ = "whole number"
    return parse


def seed_number():
    """An argparse type for seeds: what both torch's and numpy's generators take."""
    return whole_number(0, 2**64 - 1)


def number(minimum: float | None = None, maximum: float | None = None, above_minimum: bool = False):
    """An argparse type: a finite number in [minimum, maximum] (or (minimum, maximum] with `above_minimum`)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
        low_ok = minimum is None or (value > minimum if above_minimum else value >= minimum)
        if not math.isfinite(value) or not low_ok or (maximum is not None and value > maximum):
            low = "" if minimum is None else f"{'above' if above_minimum else 'at least'} {minimum:g}"
            high = "" if maximum is None else f"at most {maximum:g}"
            raise argparse.ArgumentTypeError(f"must be a finite number {' and '.join(filter(None, (low, high)))}, got {text!r}")
        return value

    parse.__name__ = "number"
    return parse


def check_image_file(path: Path, flag: str) -> None:
    """Refuse a path that is not an image file the one decoder (`images.open_image`) would open, for
    its format or its size (the header only: cheap even for big files)."""
    if not path.is_file():
        raise InputError(flag, f"no such file: {path}")
    try:
        images.check_image_file(path, flag)
    except SettingsError as error:
        raise InputError(flag, f"{path}: {error.reason}") from None


def check_output_file(path: Path, flag: str) -> None:
    """Refuse an output path whose format PIL does not know or whose folder cannot be made or written."""
    if path.is_dir():
        raise InputError(flag, f"{path} is a folder; give a file name")
    if path.suffix.lower() not in Image.registered_extensions():
        raise InputError(flag, f"unknown image format {path.suffix or '(no extension)'!r} in {path}; use e.g. .png or .jpg")
    check_output_folder(path.parent, flag)


def check_output_folder(folder: Path, flag: str) -> None:
    """Make `folder` if needed and make sure files can be written into it."""
    existing = next(path for path in (folder, *folder.parents) if path.exists())
    if not existing.is_dir():
        raise InputError(flag, f"{existing} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(flag, f"cannot make the folder {folder}: {error.strerror or error}") from None
    if not os.access(folder, os.W_OK):
        raise InputError(flag, f"cannot write into {folder}: permission denied")
