"""Run by the WebUI at start. Differential Diffusion needs only what the WebUI ships (torch, numpy,
Pillow, gradio), so nothing is installed; a missing one is reported instead of installed over the
WebUI's own pins."""

import launch

for package in ("torch", "numpy", "PIL", "gradio"):
    if not launch.is_installed(package):
        print(f"sd-webui-differential-diffusion: the WebUI's environment lacks {package}; the extension cannot run without it.")
