"""Stand-in for modules/script_callbacks.py: process-wide callbacks, registered by scripts when they are
imported; they stay until the scripts are loaded again (`clear`)."""

from collections import defaultdict

callbacks = defaultdict(list)


def _register(event):
    def register(callback, *, name=None):
        callbacks[event].append(callback)

    register.__name__ = f"on_{event}"
    return register


on_app_started = _register("app_started")  # callback(demo: gradio.Blocks, app: FastAPI), once the server is up
on_ui_settings = _register("ui_settings")
on_before_ui = _register("before_ui")
on_script_unloaded = _register("script_unloaded")


def app_started_callback(demo, app):
    for callback in callbacks["app_started"]:
        callback(demo, app)


def ui_settings_callback():
    for callback in callbacks["ui_settings"]:
        callback()


def before_ui_callback():
    for callback in callbacks["before_ui"]:
        callback()


def clear():
    callbacks.clear()
