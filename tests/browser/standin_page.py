"""A stand-in of the WebUI's img2img page for browser tests: our script's controls, our javascript/, a paste flow.

Everything here is written for these tests and follows the WebUI's documented behaviour, not its code:
- the script is loaded from scripts/ and its `ui()` builds the controls with the stand-in's
  `modules.ui_components` and `modules.scripts` (tests/webui_stub);
- every javascript/*.js is put into the page head as a classic script, after a few globals the
  WebUI's own script.js provides (webui_globals.js);
- "Read generation parameters" parses the prompt box's last line into a dict and applies the
  script's `infotext_fields`: a callable gets the dict, a key is looked up; None leaves the control
  alone, anything else is converted to the type of the control's value;
- "Generate" runs the script's `process` on the controls' values and shows the job's infotext entries
  (or the error the job would fail with), with the map hash the job writes for an uploaded map.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import SimpleNamespace

import gradio as gr

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
from modules import scripts  # the stand-in's (tests/webui_stub), put on sys.path by conftest.py

from diffdiff_webui.geometry import uploaded_map_hash
from diffdiff_webui.job import ATTRIBUTE, MAP_HASH_KEY, UnusableSettings

HEAD_SCRIPTS = [HERE / "webui_globals.js", *sorted((ROOT / "javascript").glob("*.js"))]
SCRIPT_ROUTE = "/diffdiff-test-scripts"  # our own route: gradio's file= route refuses any path through a dot folder


def load_script() -> scripts.Script:
    """The extension's script object, loaded from its file the way the WebUI loads scripts."""
    spec = importlib.util.spec_from_file_location("differential_diffusion_page", ROOT / "scripts" / "differential_diffusion.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    found = [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, scripts.Script) and v is not scripts.Script]
    return found[0]()


def parse_parameters(text: str) -> dict:
    """The `key: value` entries of the text's last line (the stand-in's infotext format)."""
    lines = text.strip().splitlines()
    params = {}
    for entry in (lines[-1] if lines else "").split(","):
        key, colon, value = entry.partition(":")
        if colon:
            params[key.strip()] = value.strip()
    return params


def paste_update(component, value):
    """One control's update for a pasted value: None leaves it alone, else the value in the control's type."""
    if value is None:
        return gr.update()
    if isinstance(value, dict) and value.get("__type__") == "update":
        return value
    kind = type(component.value)
    try:
        return gr.update(value=False if kind is bool and value == "False" else kind(value))
    except (TypeError, ValueError):
        return gr.update()


def infotext_line(entries: dict) -> str:
    return ", ".join(f"{key}: {value}" for key, value in entries.items())


def build_page():
    """The gradio Blocks of the stand-in page and the script whose controls it holds."""
    script = load_script()
    theme = gr.themes.Default(font=["sans-serif"], font_mono=["monospace"])  # no web fonts: the test machine is offline
    with gr.Blocks(analytics_enabled=False, theme=theme, title="img2img stand-in") as demo:
        prompt = gr.Textbox(label="Prompt", lines=3, elem_id="img2img_prompt")
        read = gr.Button("Read generation parameters", elem_id="img2img_paste")
        components = script.ui(True)
        generate = gr.Button("Generate", elem_id="img2img_generate")
        info = gr.Textbox(label="Generation parameters", elem_id="img2img_info", interactive=False)
        pastes = gr.Number(value=0, precision=0, visible=False, elem_id="img2img_pastes")  # tells the tests a paste landed
        fields = list(script.infotext_fields)
        runs = iter(range(1, 1 << 30))

        def paste(text, count):
            params = parse_parameters(text)
            updates = [paste_update(component, key(params) if callable(key) else params.get(key)) for component, key in fields]
            return [*updates, count + 1]

        def run(*values):
            p = SimpleNamespace(extra_generation_params={})
            script.process(p, *values)
            job = getattr(p, ATTRIBUTE, None)
            if job is not None and job.error is not None:
                return f"run {next(runs)}\n{UnusableSettings(job.error)}"
            if job is not None and job.settings.source == "upload":
                p.extra_generation_params[MAP_HASH_KEY] = uploaded_map_hash(job.settings.map)
            return f"run {next(runs)}\n" + infotext_line({"Steps": 20, "Sampler": "Euler", **p.extra_generation_params})

        read.click(fn=paste, inputs=[prompt, pastes], outputs=[*(component for component, _ in fields), pastes], show_progress=False)
        generate.click(fn=run, inputs=components, outputs=[info], show_progress=False)
    return demo, script


def head_script_routes(scripts: list[Path]) -> dict[str, Path]:
    """A URL of our own for each script, the same wherever the checkout lies."""
    return {f"{SCRIPT_ROUTE}/{index}-{path.name}": path for index, path in enumerate(scripts)}


def serve_files(app, routes: dict[str, Path]) -> None:
    """Answer each route of `routes` with its file, as javascript."""
    from fastapi.responses import FileResponse

    for url, path in routes.items():
        app.add_api_route(url, lambda path=path: FileResponse(path, media_type="text/javascript"), methods=["GET"])


def head_scripts_installed(response_class, urls: list[str]):
    """Wrap gradio's page template so every page gets the scripts at `urls` in its head, as the WebUI does."""

    def template_response(*args, **kwargs):
        response = response_class(*args, **kwargs)
        tags = "".join(f'<script type="text/javascript" src="{url}"></script>\n' for url in urls)
        body = response.body.replace(b"</head>", tags.encode() + b"</head>")
        # gradio's page fetches an iframe resizer from a CDN; the test machine is offline and the page does not need it
        response.body = re.sub(rb"<script[^>]*iframeResizer[^>]*></script>", b"", body)
        response.init_headers()
        return response

    return template_response
