"""The import graph of our own modules (read with ast, nothing imported): no circles, and each layer
imports only from the layers below it (docs/architecture.md)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("lib_diffdiff", "diffdiff_webui")

# layer -> the modules in it; a module may import from its own layer and the ones listed after it in ALLOWED
LAYERS = {
    "engine": {"errors", "setting", "images", "maps", "fan", "presets", "injection", "schedule", "text", "params", "composite", "fill", "lib_diffdiff"},
    "command line helpers": {"cli"},
    "runners": {"runners", "run", "runner_job", "batch"},
    "lab": {"lab", "__main__"},
    "webui": {"diffdiff_webui", "scripts"},
}
ALLOWED = {
    "engine": {"engine"},
    "command line helpers": {"engine", "command line helpers"},
    "runners": {"engine", "command line helpers", "runners"},
    "lab": {"engine", "command line helpers", "lab"},
    "webui": {"engine", "webui"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, name: str, known: set) -> set:
    """Our modules `path` imports (relative imports resolved; `from . import x` counts as module x)."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            candidates = [target] + [f"{target}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            continue
        found.update(candidate for candidate in candidates if candidate in known)
    return found


def import_graph() -> dict:
    paths = [path for package in PACKAGES for path in (ROOT / package).rglob("*.py")] + sorted((ROOT / "scripts").glob("*.py"))
    names = {module_name(path): path for path in paths}
    return {name: imported_modules(path, name, set(names)) for name, path in names.items()}


def layer_of(module: str) -> str:
    parts = module.split(".")
    key = parts[0] if parts[0] in ("diffdiff_webui", "scripts") else (parts[1] if len(parts) > 1 else parts[0])
    return next(layer for layer, members in LAYERS.items() if key in members)


def test_no_import_circles():
    graph, state, circles = import_graph(), {}, []

    def visit(module, path):
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                circles.append(" -> ".join(path[path.index(target) :] + [target]))
            elif target not in state:
                visit(target, path + [target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert circles == []


def test_each_layer_imports_only_from_below():
    wrong = [
        f"{module} ({layer_of(module)}) imports {target} ({layer_of(target)})"
        for module, targets in import_graph().items()
        for target in targets
        if layer_of(target) not in ALLOWED[layer_of(module)]
    ]
    assert wrong == []


def test_the_graph_is_read():
    graph = import_graph()
    assert "lib_diffdiff.maps" in graph["lib_diffdiff.params"] and "lib_diffdiff.runner_job" in graph["lib_diffdiff.batch"]
    assert "lib_diffdiff.errors" in graph["scripts.differential_diffusion"]
