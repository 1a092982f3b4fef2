"""modules/script_callbacks.py: process-wide callbacks that stay registered until the scripts reload."""

from collections import defaultdict

callbacks = defaultdict(list)


def _add(kind, callback):
    callbacks[kind].append(callback)


def on_app_started(callback, *, name=None):
    """callback(demo: gradio.Blocks, app: FastAPI), once the server is up."""
    _add("app_started", callback)


def on_ui_settings(callback, *, name=None):
    _add("ui_settings", callback)


def on_before_ui(callback, *, name=None):
    _add("before_ui", callback)


def on_script_unloaded(callback, *, name=None):
    _add("script_unloaded", callback)


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
