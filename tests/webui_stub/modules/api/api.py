"""Stand-in for modules/api/api.py: POST /sdapi/v1/img2img and GET /sdapi/v1/script-info of WebUI 1.10,
with its error answers.

What it models: an always-on script's `args` in the request are copied over that script's UI
defaults slot by slot (as many as both have), as raw JSON values; the script's title is matched
case-insensitively (unknown: 422). Any exception while answering becomes a JSON answer
{"error", "detail", "body", "errors"} with the exception's `status_code` (500 without one); only
exceptions that are not HTTPExceptions are logged with their stack trace.
"""

import base64
import json
from io import BytesIO
from threading import Lock

import gradio as gr
from fastapi import FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from modules import errors, images, processing, scripts, shared
from modules.api import models


def decode_base64_to_image(encoding):
    """A base64 picture, with or without a data-URL prefix; anything unreadable is a 500, as in the WebUI."""
    if encoding.startswith("data:image/"):
        encoding = encoding.partition(",")[2]
    try:
        return images.read(BytesIO(base64.b64decode(encoding)))
    except Exception as error:
        raise HTTPException(status_code=500, detail="Invalid encoded image") from error


def encode_pil_to_base64(image):
    buffer = BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def error_answer(request: Request, error: Exception) -> JSONResponse:
    content = {
        "error": type(error).__name__,
        "detail": getattr(error, "detail", ""),
        "body": getattr(error, "body", ""),
        "errors": str(error),
    }
    if not isinstance(error, HTTPException):
        errors.report(f"API error: {request.method}: {request.url} {content}", exc_info=True)
    return JSONResponse(content=jsonable_encoder(content), status_code=getattr(error, "status_code", 500))


def api_middleware(app: FastAPI):
    @app.middleware("http")
    async def answer_errors(request: Request, call_next):
        try:
            return await call_next(request)
        except Exception as error:
            return error_answer(request, error)

    for kind in (Exception, HTTPException):
        app.add_exception_handler(kind, error_answer)


class Api:
    def __init__(self, app: FastAPI, queue_lock: Lock):
        self.app, self.queue_lock = app, queue_lock
        api_middleware(app)
        app.add_api_route("/sdapi/v1/img2img", self.img2imgapi, methods=["POST"], response_model=models.ImageToImageResponse)
        app.add_api_route("/sdapi/v1/script-info", self.get_script_info, methods=["GET"], response_model=list[models.ScriptInfo])
        self.default_script_arg_img2img = self.init_default_script_args(scripts.scripts_img2img)

    def get_script_info(self):
        return [script.api_info for script in scripts.scripts_img2img.scripts if script.api_info is not None]

    def init_default_script_args(self, script_runner):
        """Every script's slots filled with its components' initial values (slot 0: no selectable script)."""
        defaults = [None] * max([1] + [script.args_to for script in script_runner.scripts])
        defaults[0] = 0
        with gr.Blocks():
            for script in script_runner.scripts:
                components = script.ui(script.is_img2img)
                if components:
                    defaults[script.args_from : script.args_to] = [component.value for component in components]
        return defaults

    def init_script_args(self, request, default_script_args, script_runner):
        values = list(default_script_args)
        by_title = {script.title().lower(): script for script in script_runner.scripts}
        for title, entry in (request.alwayson_scripts or {}).items():
            script = by_title.get(title.lower())
            if script is None:
                raise HTTPException(status_code=422, detail=f"always on script {title} not found")
            if not script.alwayson:
                raise HTTPException(status_code=422, detail="Cannot have a selectable script in the always on scripts params")
            given = entry.get("args", [])
            slots = range(script.args_from, script.args_to)
            for slot, value in zip(slots, given):
                values[slot] = value
        return values

    def img2imgapi(self, img2imgreq: models.StableDiffusionImg2ImgProcessingAPI):
        if img2imgreq.init_images is None:
            raise HTTPException(status_code=404, detail="Init image not found")
        fields = img2imgreq.dict(exclude={"init_images", "alwayson_scripts"})
        fields["mask"] = decode_base64_to_image(img2imgreq.mask) if img2imgreq.mask else None
        runner = scripts.scripts_img2img
        script_args = self.init_script_args(img2imgreq, self.default_script_arg_img2img, runner)
        with self.queue_lock:
            p = processing.StableDiffusionProcessingImg2Img(init_images=[decode_base64_to_image(x) for x in img2imgreq.init_images], **fields)
            p.scripts, p.script_args = runner, tuple(script_args)
            shared.state.begin(job="scripts_img2img")
            try:
                processed = processing.process_images(p)
            finally:
                shared.state.end()
        info = {"infotexts": processed.infotexts, "extra_generation_params": processed.extra_generation_params}
        return models.ImageToImageResponse(images=[encode_pil_to_base64(image) for image in processed.images], parameters={}, info=json.dumps(info, default=str))
