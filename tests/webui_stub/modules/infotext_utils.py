"""Stand-in for modules/infotext_utils.py: read the parameters line of an infotext, and what pasting it
does to each component."""

import json
import re

# "Name: value" pairs separated by commas; a value in double quotes is JSON and may hold commas
PAIR = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')


def _value(text):
    if len(text) >= 2 and text.startswith('"') and text.endswith('"'):
        try:
            return json.loads(text)
        except ValueError:
            pass
    return text


def parse_generation_parameters(x: str) -> dict:
    last_line = x.strip().split("\n")[-1]
    return {name: _value(text) for name, text in PAIR.findall(last_line)}


def paste_values(params: dict, paste_fields):
    """For each (component, key or function of the parameters): the value pasting sets, converted to the
    type of the component's value ("False" is false for a checkbox), or None where nothing is pasted."""
    pasted = []
    for component, key in paste_fields:
        value = key(params) if callable(key) else params.get(key)
        if value is not None:
            kind = type(component.value)
            if kind is bool:
                value = value != "False" and bool(value)
            else:
                value = float(value) if kind is int else kind(value)
        pasted.append(value)
    return pasted
