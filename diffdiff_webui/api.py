"""HTTP API: our arguments in an img2img request are checked before the WebUI runs the job.

The WebUI turns an exception from a running job into HTTP 500 with a stack trace in its log, and
swallows one raised in a script hook. So the img2img route is wrapped (per route, after the app
started, where adding middleware is no longer allowed): the request body is read once, our entry
in `alwayson_scripts` is parsed with the same strict parser the script uses, and a bad one is
answered with 422 and a message naming the field. A good request goes on, body replayed, untouched.
"""

from __future__ import annotations

import json

from starlette.responses import JSONResponse

from diffdiff_webui.api_args import parse_script_args
from lib_diffdiff.errors import SettingsError
from lib_diffdiff.params import INPAINT_MASK

IMG2IMG_PATH = "/sdapi/v1/img2img"


def request_error(body: bytes, title: str) -> SettingsError | None:
    """What is wrong with our arguments in an img2img request body, or None (also when they are absent)."""
    try:
        request = json.loads(body or b"{}")
    except ValueError:
        return None  # not JSON: the WebUI answers that itself
    scripts = request.get("alwayson_scripts") if isinstance(request, dict) else None
    if not isinstance(scripts, dict):
        return None
    entry = next((value for name, value in scripts.items() if isinstance(name, str) and name.lower() == title.lower()), None)
    if not isinstance(entry, dict) or "args" not in entry:
        return None
    args = entry["args"]
    if not isinstance(args, list):
        return SettingsError("args", f"must be a list (one object of settings by name, or values in UI order), got {type(args).__name__}")
    try:
        settings = parse_script_args(args)
    except SettingsError as error:
        return error
    if settings.enabled and settings.source == INPAINT_MASK and not request.get("mask"):
        return SettingsError("mask", f"map source {INPAINT_MASK!r} uses the request's own mask; send one in 'mask' or choose another source")
    return None


class RequestValidator:
    """ASGI wrapper of one route: refuses a request whose Differential Diffusion arguments are bad."""

    def __init__(self, app, title: str):
        self.app = app
        self.title = title

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") != "POST":
            return await self.app(scope, receive, send)
        messages, body = [], b""
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        error = request_error(body, self.title)
        if error is not None:
            content = {"error": "SettingsError", "field": error.field, "detail": str(error)}
            return await JSONResponse(content, status_code=422)(scope, receive, send)

        async def replay():
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


def install(app, title: str) -> bool:
    """Wrap the img2img route of a started app (none without --api); safe to call again on a reload."""
    found = False
    for route in getattr(app, "routes", []):
        if getattr(route, "path", None) == IMG2IMG_PATH and hasattr(route, "app"):
            if not isinstance(route.app, RequestValidator):
                route.app = RequestValidator(route.app, title)
            found = True
    return found
