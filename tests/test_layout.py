"""The package's shape: layers as sub-packages, each importing only the layers below it.

Every ``import`` counts: eager ones, lazy ones inside functions (they keep start-up fast, but a
dependency through them is still a dependency) and those under ``if TYPE_CHECKING:`` (a type
names the module it comes from). The rules are stated once, in ``ALLOWED``.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "balancecli"

# layer -> the layers it may import (besides itself). A layer is a sub-package of balancecli,
# or one of the few modules left at the root.
ALLOWED: dict[str, set[str]] = {
    "core": set(),  # models, numbers, bounded JSON, errors, redaction, cancellation, clock
    "net": {"core"},  # the HTTP client
    "credentials": {"core", "net"},  # env -> keyring, the token lifecycle, browser login
    "brokers": {"core", "net", "credentials"},  # the contract, one package per broker
    "config": {"core", "net", "brokers"},  # profiles from TOML, validated by the broker
    "money": {"core", "net", "config", "brokers"},  # rates with provenance, the account value
    "history": {"core"},  # the SQLite store
    "output": {"core", "money", "history", "brokers"},  # the presenter and its printers
    "service": {"core", "net", "credentials", "brokers", "config", "money", "history"},
    "demo": {"core"},  # the bundled fake brokers (also the tests' doubles)
    "cli": {"core", "net", "credentials", "brokers", "config", "money", "history", "output",
            "service", "demo"},
    "__main__": {"cli"},
    "__init__": set(),
}
ROOT_MODULES = {"__init__", "__main__", "config"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 2:
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> str:
    return module.split(".")[1] if "." in module else "__init__"


def imports_of(path: Path, modules: set[str], name: str | None = None) -> set[str]:
    """The balancecli modules that ``path`` imports, wherever the import statement stands
    (``from a import b`` counts a.b if a.b is a module, else a)."""
    name = name or module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in modules)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                if full in modules:
                    found.add(full)
                elif base in modules:
                    found.add(base)
    found.discard(name)
    return found


def graph() -> dict[str, set[str]]:
    files = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(f) for f in files} | {"balancecli"}
    return {module_name(f): imports_of(f, modules) for f in files}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := dfs(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state and (cycle := dfs(start)):
            return cycle
    return None


def test_the_checker_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_checker_sees_lazy_and_type_checking_imports(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                      "    from balancecli.cli import runtime\n"
                      "def f():\n    import balancecli.output.table\n")
    modules = {"balancecli.cli.runtime", "balancecli.output.table"}
    assert imports_of(source, modules, "balancecli.x.m") == modules


def test_no_import_cycles_between_modules():
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_no_import_cycles_between_layers():
    layers: dict[str, set[str]] = {}
    for module, deps in graph().items():
        layers.setdefault(layer_of(module), set()).update(
            layer_of(d) for d in deps if layer_of(d) != layer_of(module))
    cycle = find_cycle(layers)
    assert cycle is None, "layer cycle: " + " -> ".join(cycle or [])


def test_each_layer_imports_only_the_layers_below_it():
    wrong = sorted(
        f"{module} -> {dep}" for module, deps in graph().items() for dep in deps
        if layer_of(dep) not in {layer_of(module), "__init__"}  # the root holds __version__
        and layer_of(dep) not in ALLOWED[layer_of(module)])
    assert wrong == []


def test_every_module_belongs_to_a_layer():
    assert {layer_of(m) for m in graph()} <= set(ALLOWED)
    root = {p.stem for p in PACKAGE.glob("*.py")}
    assert root == ROOT_MODULES, "modules at the package root: keep them to a handful"


def test_commands_live_under_cli_commands_and_nothing_imports_the_app():
    edges = graph()
    assert {"balancecli.cli.commands.data", "balancecli.cli.commands.auth",
            "balancecli.cli.commands.history", "balancecli.cli.commands.profile"} <= set(edges)
    importers = sorted(m for m, deps in edges.items() if "balancecli.cli.app" in deps)
    assert importers == ["balancecli.cli.entry"]  # the console script, after its fast paths


# -- broker knowledge lives in brokers/ (and in the demo's fake brokers) ----------------------

BROKER_HOMES = {"brokers", "demo"}
# Generated from the app, data only: the registry's names as Tab candidates and the commands
# brokers declare, copied by tests/tools/make_completion_table.py; nothing branches on them.
GENERATED = {"balancecli.cli.completion_table"}


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)):
            found.add(id(body[0].value))
    return found


def _is_broker_attribute(node: ast.AST) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "broker"
            or isinstance(node, ast.Name) and node.id == "broker")


def _has_text(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Constant) and isinstance(n.value, str) for n in ast.walk(node))


def broker_names_in(source: str, names: tuple[str, ...]) -> list[tuple[int, str]]:
    """(line, text) of each place in ``source`` that names a broker outside a docstring or a
    comment: a string that is a broker's name (any case: ``"quantower"``, ``"TradeStation"``),
    a string with a broker's name quoted or as a host (``"... = 'etna'"``, ``"api.tradestation
    .com"``), and a comparison of a ``broker`` with text (``row.broker == NAME``)."""
    import re

    tree = ast.parse(source)
    docs = _docstrings(tree)
    lowered = {n.lower() for n in names}
    either = "|".join(re.escape(n) for n in names)
    inside = re.compile(rf"""(["'])({either})\1|\b({either})\.[a-z]""", re.IGNORECASE)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            if node.value.strip().lower() in lowered or inside.search(node.value):
                found.append((node.lineno, node.value[:60]))
        elif isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(_is_broker_attribute(s) for s in sides) and any(
                    _has_text(s) for s in sides if not _is_broker_attribute(s)):
                found.append((node.lineno, ast.unparse(node)[:60]))
    return sorted(found)


def test_the_broker_name_checker_sees_literals_and_comparisons():
    source = '''"""A docstring may say TradeStation, or quantower, as an example."""
def f(row, profile):
    # and so may a comment: longport
    """So may a function's docstring: etna."""
    if row.broker == "longport":
        return "Read-only balances from TradeStation and others"
    if profile.broker in ("a", "b"):
        return {"quantower": 1, "title": "ETNA"}
    return ("https://signin.tradestation.com/authorize", "CASE WHEN broker = 'etna' THEN 1")
'''
    names = ("tradestation", "longport", "etna", "quantower")
    assert [line for line, _ in broker_names_in(source, names)] == [5, 5, 7, 8, 8, 9, 9]


def test_no_module_outside_brokers_names_a_broker():
    from balancecli.brokers import NAMES

    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        module = module_name(path)
        if layer_of(module) in BROKER_HOMES or module in GENERATED:
            continue
        hits = broker_names_in(path.read_text(), NAMES)
        if hits:
            found[module] = hits
    assert found == {}, "ask the broker class (brokers/base.py) instead of naming a broker"


# -- function size --------------------------------------------------------------------------

MAX_FUNCTION_LINES = 70
# Functions being split right now (auth._login and HttpClient.request already were); remove
# a name when its function is.
LONG_FOR_NOW: set[str] = set()


def _is_data_literal(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """A body that is one data literal (after the docstring): ``return {...}`` or ``X = [...]``."""
    body = list(function.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    if len(body) != 1:
        return False
    value = getattr(body[0], "value", None)
    literal = (ast.Dict, ast.List, ast.Tuple, ast.Set, ast.Constant)
    return isinstance(body[0], (ast.Return, ast.Assign, ast.AnnAssign)) and isinstance(
        value, literal)


def long_functions(path: Path, module: str, limit: int = MAX_FUNCTION_LINES) -> list[str]:
    """``module.Qual.name (N lines)`` for each function of ``path`` longer than ``limit``."""
    found: list[str] = []

    def walk(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = f"{prefix}{child.name}"
                length = (child.end_lineno or child.lineno) - child.lineno + 1
                if length > limit and not _is_data_literal(child):
                    found.append(f"{module}.{name} ({length} lines)")
                walk(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                walk(child, f"{prefix}{child.name}.")

    walk(ast.parse(path.read_text(), str(path)), "")
    return found


def test_the_size_checker_counts_decorators_out_and_skips_data_literals(tmp_path):
    source = tmp_path / "m.py"
    body = "\n".join(f"    x{i} = {i}" for i in range(70))
    data = "\n".join(f"        {i}: {i}," for i in range(80))
    source.write_text(f"def long():\n{body}\n\n\ndef table():\n    return {{\n{data}\n    }}\n\n\n"
                      f"class C:\n    def short(self):\n        pass\n")
    assert long_functions(source, "m") == ["m.long (71 lines)"]


def test_no_function_is_longer_than_70_lines():
    found = sorted(entry for f in sorted(PACKAGE.rglob("*.py"))
                   for entry in long_functions(f, module_name(f)))
    long = [entry for entry in found if entry.rsplit(" (", 1)[0] not in LONG_FOR_NOW]
    assert long == [], "split these by responsibility (data literals do not count)"
