"""The house rule: the host package's rooms follow the data, and imports only point
down the layers (no cycles, not even through imports inside functions)."""

import ast
from pathlib import Path

import pytest

import retrostep

PKG = Path(retrostep.__file__).resolve().parent

# bottom to top: a module may import its own layer and the layers below it (the
# package root `retrostep` itself is layer 0)
LAYERS = [
    {"retrostep.errors", "retrostep.units", "retrostep.schema", "retrostep.term",
     "retrostep.firmware"},
    {"retrostep.formats"},
    {"retrostep.engine"},
    {"retrostep.sim"},
    {"retrostep.vm"},
    {"retrostep.analysis"},
    {"retrostep.device"},
    {"retrostep.app"},
    {"retrostep.cli"},
]


def layer_of(module):
    """The layer index of a dotted module name (its longest listed prefix)."""
    if module == "retrostep":
        return 0
    parts = module.split(".")
    for n in range(len(parts), 1, -1):
        prefix = ".".join(parts[:n])
        for i, layer in enumerate(LAYERS):
            if prefix in layer:
                return i
    raise AssertionError(f"{module} is in no layer: add its room to LAYERS")


def host_modules():
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG).with_suffix("")
        if rel.parts[:2] == ("vm", "board") or rel.name == "device_rig":
            continue  # MicroPython files that run on the (virtual) board
        name = ".".join(("retrostep",) + rel.parts)
        yield name.removesuffix(".__init__"), path


def imports_of(name, path):
    """Every retrostep module `name` imports, at any depth of the file."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("retrostep"))
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([mod] if mod else []))
            if not mod.startswith("retrostep"):
                continue
            for a in node.names:
                full = f"{mod}.{a.name}"
                # `from retrostep.sim import gaitsim` imports the module gaitsim
                out.add(full if _is_module(full) else mod)
    return out


def _is_module(dotted):
    rel = Path(*dotted.split(".")[1:])
    return (PKG / rel).with_suffix(".py").exists() or (PKG / rel / "__init__.py").exists()


GRAPH = {name: imports_of(name, path) for name, path in host_modules()}


def test_the_rule_sees_the_whole_package():
    assert {"retrostep.formats.trace", "retrostep.engine.run", "retrostep.analysis.replay",
            "retrostep.device.sync", "retrostep.cli"} <= set(GRAPH)
    assert "retrostep.engine.run" in GRAPH["retrostep.analysis.replay"]


@pytest.mark.parametrize("name", sorted(GRAPH))
def test_imports_only_point_down(name):
    up = sorted(m for m in GRAPH[name] if layer_of(m) > layer_of(name))
    assert not up, f"{name} (layer {layer_of(name)}) imports from a layer above: {up}"


def test_no_import_cycles():
    state = {}

    def visit(node, stack):
        state[node] = "open"
        for dep in sorted(GRAPH.get(node, ())):
            if dep not in GRAPH or dep == node:
                continue
            if state.get(dep) == "open":
                raise AssertionError("import cycle: " + " -> ".join(stack + [node, dep]))
            if dep not in state:
                visit(dep, stack + [node])
        state[node] = "done"

    for name in sorted(GRAPH):
        if name not in state:
            visit(name, [])


def test_layer_of_refuses_a_room_nobody_placed():
    with pytest.raises(AssertionError, match="in no layer"):
        layer_of("retrostep.attic.junk")


def test_the_checker_catches_an_upward_import(tmp_path):
    # the rule's own test: a formats module importing the analysis room is caught
    fake = tmp_path / "x.py"
    fake.write_text("def f():\n    from retrostep.analysis import library\n")
    deps = imports_of("retrostep.formats.x", fake)
    assert deps == {"retrostep.analysis.library"}
    assert layer_of("retrostep.analysis.library") > layer_of("retrostep.formats.x")
