"""modules/infotext_utils.py: parse the generation parameters and paste them into components."""

import json
import re

re_param = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')


def unquote(text):
    if len(text) == 0 or text[0] != '"' or text[-1] != '"':
        return text
    try:
        return json.loads(text)
    except Exception:
        return text


def parse_generation_parameters(x: str) -> dict:
    lines = x.strip().split("\n")
    return {k: unquote(v) for k, v in re_param.findall(lines[-1])}


def paste_values(params: dict, paste_fields):
    """What pasting does to each (component, key): the value converted to the component's type, or no change."""
    result = []
    for output, key in paste_fields:
        v = key(params) if callable(key) else params.get(key, None)
        if v is None:
            result.append(None)
            continue
        valtype = type(output.value)
        if valtype is bool and v == "False":
            val = False
        elif valtype is int:
            val = float(v)
        else:
            val = valtype(v)
        result.append(val)
    return result
