"""A stand-in for the parts of AUTOMATIC1111 WebUI 1.10's `modules` that the extension uses.

Written from the WebUI's signatures and call order (modules/scripts.py, processing.py,
sd_samplers_*.py, script_callbacks.py, ui_components.py, api/api.py), with tiny models and a
block-average "VAE" in place of the networks. Only the tests put this folder on sys.path.
"""
