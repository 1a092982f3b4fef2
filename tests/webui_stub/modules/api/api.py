"""modules/api/api.py: the img2img endpoint, script-info, the alwayson argument handling and the
exception middleware of WebUI 1.10's HTTP API."""

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


def script_name_to_index(name, scripts_list):
    try:
        return [script.title().lower() for script in scripts_list].index(name.lower())
    except Exception as e:
        raise HTTPException(status_code=422, detail=f"Script '{name}' not found") from e


def decode_base64_to_image(encoding):
    if encoding.startswith("data:image/"):
        encoding = encoding.split(";")[1].split(",")[1]
    try:
        return images.read(BytesIO(base64.b64decode(encoding)))
    except Exception as e:
        raise HTTPException(status_code=500, detail="Invalid encoded image") from e


def encode_pil_to_base64(image):
    with BytesIO() as output_bytes:
        image.save(output_bytes, format="PNG")
        return base64.b64encode(output_bytes.getvalue()).decode()


def api_middleware(app: FastAPI):
    def handle_exception(request: Request, e: Exception):
        err = {
            "error": type(e).__name__,
            "detail": vars(e).get("detail", ""),
            "body": vars(e).get("body", ""),
            "errors": str(e),
        }
        if not isinstance(e, HTTPException):  # do not print backtrace on known httpexceptions
            errors.report(f"API error: {request.method}: {request.url} {err}", exc_info=True)
        return JSONResponse(status_code=vars(e).get("status_code", 500), content=jsonable_encoder(err))

    @app.middleware("http")
    async def exception_handling(request: Request, call_next):
        try:
            return await call_next(request)
        except Exception as e:
            return handle_exception(request, e)

    @app.exception_handler(Exception)
    async def fastapi_exception_handler(request: Request, e: Exception):
        return handle_exception(request, e)

    @app.exception_handler(HTTPException)
    async def http_exception_handler(request: Request, e: HTTPException):
        return handle_exception(request, e)


class Api:
    def __init__(self, app: FastAPI, queue_lock: Lock):
        self.app = app
        self.queue_lock = queue_lock
        api_middleware(self.app)
        self.app.add_api_route("/sdapi/v1/img2img", self.img2imgapi, methods=["POST"], response_model=models.ImageToImageResponse)
        self.app.add_api_route("/sdapi/v1/script-info", self.get_script_info, methods=["GET"], response_model=list[models.ScriptInfo])
        self.default_script_arg_img2img = self.init_default_script_args(scripts.scripts_img2img)

    def get_script_info(self):
        return [script.api_info for script in scripts.scripts_img2img.scripts if script.api_info is not None]

    def get_script(self, script_name, script_runner):
        if script_name is None or script_name == "":
            return None
        return script_runner.scripts[script_name_to_index(script_name, script_runner.scripts)]

    def init_default_script_args(self, script_runner):
        last_arg_index = 1
        for script in script_runner.scripts:
            if last_arg_index < script.args_to:
                last_arg_index = script.args_to
        script_args = [None] * last_arg_index
        script_args[0] = 0
        with gr.Blocks():
            for script in script_runner.scripts:
                if script.ui(script.is_img2img):
                    script_args[script.args_from : script.args_to] = [elem.value for elem in script.ui(script.is_img2img)]
        return script_args

    def init_script_args(self, request, default_script_args, script_runner):
        script_args = default_script_args.copy()
        if request.alwayson_scripts:
            for alwayson_script_name in request.alwayson_scripts.keys():
                alwayson_script = self.get_script(alwayson_script_name, script_runner)
                if alwayson_script is None:
                    raise HTTPException(status_code=422, detail=f"always on script {alwayson_script_name} not found")
                if alwayson_script.alwayson is False:
                    raise HTTPException(status_code=422, detail="Cannot have a selectable script in the always on scripts params")
                if "args" in request.alwayson_scripts[alwayson_script_name]:
                    given = request.alwayson_scripts[alwayson_script_name]["args"]
                    for idx in range(0, min((alwayson_script.args_to - alwayson_script.args_from), len(given))):
                        script_args[alwayson_script.args_from + idx] = given[idx]
        return script_args

    def img2imgapi(self, img2imgreq: models.StableDiffusionImg2ImgProcessingAPI):
        init_images = img2imgreq.init_images
        if init_images is None:
            raise HTTPException(status_code=404, detail="Init image not found")
        mask = img2imgreq.mask
        if mask:
            mask = decode_base64_to_image(mask)
        script_runner = scripts.scripts_img2img
        args = img2imgreq.dict()
        for name in ("init_images", "alwayson_scripts"):
            args.pop(name)
        args["mask"] = mask
        script_args = self.init_script_args(img2imgreq, self.default_script_arg_img2img, script_runner)
        with self.queue_lock:
            p = processing.StableDiffusionProcessingImg2Img(init_images=[decode_base64_to_image(x) for x in init_images], **args)
            p.scripts = script_runner
            p.script_args = tuple(script_args)
            try:
                shared.state.begin(job="scripts_img2img")
                processed = processing.process_images(p)
            finally:
                shared.state.end()
        b64images = list(map(encode_pil_to_base64, processed.images))
        info = json.dumps({"infotexts": processed.infotexts, "extra_generation_params": processed.extra_generation_params}, default=str)
        return models.ImageToImageResponse(images=b64images, parameters={}, info=info)
