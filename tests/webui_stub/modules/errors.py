"""Stand-in for modules/errors.py: `report` logs an exception (here: keeps its text) and the caller goes on."""

import traceback

reported: list[str] = []


def report(message: str, *, exc_info: bool = False) -> None:
    reported.append(f"{message}\n{traceback.format_exc()}" if exc_info else message)
