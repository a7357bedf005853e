"""The package's shape (issue #10): no import cycles, modules of a readable size, commands in
``balancecli/commands/`` and the root app importing them, never the other way round.

Every ``import`` counts, also those inside functions (lazy imports keep start-up fast, but a
cycle through them is still a cycle); only ``if TYPE_CHECKING:`` blocks are left out.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "balancecli"
MAX_LINES = 400
MAX_BROKER_LINES = 330
# Split on their own branches (issue #10); this set empties as they land.
PENDING: set[str] = set()


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The balancecli modules that ``path`` imports (``from a import b`` counts a.b if a.b is a
    module, else a)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking(node):
            for child in node.orelse:
                visit(child)
            return
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
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    found.discard(name)
    return found


def graph() -> dict[str, set[str]]:
    files = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(f) for f in files}
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


def test_no_import_cycles():
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_nothing_imports_the_root_app():
    importers = [m for m, deps in graph().items() if "balancecli.cli" in deps]
    assert importers == ["balancecli.__main__"]


def test_commands_only_under_commands_package():
    edges = graph()
    commands = {m for m in edges if m.startswith("balancecli.commands")}
    assert {"balancecli.commands.data", "balancecli.commands.auth", "balancecli.commands.profile",
            "balancecli.commands.history", "balancecli.commands.quantower",
            "balancecli.commands.options"} <= commands
    # Below the command layer nothing reaches up into it.
    upward = sorted(f"{m} -> {d}" for m, deps in edges.items() if m not in commands
                    and m not in ("balancecli.cli", "balancecli.__main__")
                    for d in deps if d in commands)
    assert upward == []
    assert not list(PACKAGE.glob("cli_*.py"))


def test_module_sizes():
    too_long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        lines = len(path.read_text().splitlines())
        limit = MAX_BROKER_LINES if path.parent.name == "brokers" else MAX_LINES
        if lines > limit and str(path.relative_to(PACKAGE)) not in PENDING:
            too_long.append(f"{path.relative_to(PACKAGE)}: {lines} > {limit}")
    assert too_long == []
