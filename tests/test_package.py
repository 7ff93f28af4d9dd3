"""The shape of the package: imports run one way (command line -> library),
no import circle, module-level imports only (but optional packages)."""
import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "d2lnets"
OPTIONAL = {"tqdm", "matplotlib", "onnx", "mxnet.onnx", "matplotlib_inline", "IPython"}


def module_name(path):
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path):
    """(imported d2lnets modules, is the import at module level) for one file."""
    tree = ast.parse(path.read_text())
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [f"{target}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        top = node in tree.body or any(node in getattr(n, "body", []) for n in tree.body
                                       if isinstance(n, (ast.Try, ast.If)))
        found += [(n, top, node.lineno) for n in names]
    return found


MODULES = {module_name(p): p for p in PKG.rglob("*.py")}


def graph():
    edges = {}
    for name, path in MODULES.items():
        targets = set()
        for imported, _, _ in imports_of(path):
            while imported and imported not in MODULES:
                imported = imported.rpartition(".")[0]
            if imported and imported != name and not name.startswith(imported + "."):
                targets.add(imported)
        edges[name] = targets
    return edges


def test_no_import_circle():
    edges, state, cycles = graph(), {}, []

    def visit(node, stack):
        state[node] = "open"
        for nxt in edges[node]:
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"
    for node in edges:
        if node not in state:
            visit(node, [node])
    assert not cycles, cycles


def test_the_library_never_imports_the_command_line():
    command_line = ("d2lnets.cli", "d2lnets.__main__")
    wrong = [(name, t) for name, targets in graph().items() if not name.startswith(command_line)
             for t in targets if t.startswith("d2lnets.cli")]
    assert not wrong


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_at_module_top_except_optional_packages(name):
    allowed = {  # see the module docstrings
        "d2lnets.threads": ("d2lnets._mxnet_compat",),  # must run before MXNet loads
        "d2lnets.doctor": ("mxnet", "d2lnets.data", "d2lnets.devices"),  # runs without MXNet
    }
    late = [(imp, line) for imp, top, line in imports_of(MODULES[name])
            if not top and imp.split(".")[0] not in OPTIONAL and imp not in OPTIONAL
            and not imp.startswith(allowed.get(name, ("-",)))]
    assert not late, late


def test_the_readme_is_a_newcomers_door():
    """At most 150 lines; what it is, the two commands and a code example in the first 40."""
    from pathlib import Path
    lines = (Path(__file__).resolve().parents[1] / "README.md").read_text().splitlines()
    assert len(lines) <= 150
    head = "\n".join(lines[:40])
    assert "make train" in head and "make test" in head and "```python" in head
    assert "import d2lnets as d2l" in head


def _mxnet_private_names():
    """The private names MXNet's objects that d2lnets touches carry."""
    import mxnet as mx
    from mxnet import gluon, nd

    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Dense(2, in_units=2))
    net.initialize()
    objects = [mx, mx.base, mx.base._LIB, net, net[0], gluon.Block(), net[0].weight, nd.zeros(1),
               mx.sym.var("x"), mx.optimizer.NAG(), mx.kv.create("local"),
               gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})]
    names = set()
    for obj in objects:
        names |= {n for n in [*dir(obj), *getattr(obj, "__dict__", {})]
                  if n.startswith("_") and not n.startswith("__")}
    return names


def test_mxnet_internals_are_touched_only_in_mxnet_compat():
    """No module but _mxnet_compat reads a private name of an MXNet object or
    overrides a private method of an MXNet class. A private name d2lnets assigns
    itself (``self._at = ...``) or a module function of its own is its own."""
    private = _mxnet_private_names()
    assert {"_children", "_cached_graph", "_get_graph", "_update_count", "_LIB"} <= private
    trees = {name: ast.parse(path.read_text()) for name, path in MODULES.items()
             if name != "d2lnets._mxnet_compat"}
    own = {n.attr for t in trees.values() for n in ast.walk(t)
           if isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store)}
    found = []
    for name, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in private - own:
                found.append(f"{name}:{node.lineno} reads {node.attr}")
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") in \
                    ("getattr", "hasattr", "setattr") and len(node.args) > 1 and \
                    getattr(node.args[1], "value", None) in private - own:
                found.append(f"{name}:{node.lineno} reads {node.args[1].value}")
            if isinstance(node, ast.ClassDef):
                found += [f"{name}:{m.lineno} overrides {m.name}" for m in node.body
                          if isinstance(m, ast.FunctionDef) and m.name in private]
    assert not found
