"""The layout's rules, read from the code's own imports.

Every ``import`` and ``from … import`` in a file counts, wherever it stands:
at module level, inside a function (the lazy imports that keep Rasa or
psycopg2 out of processes that do not need them) or under ``if TYPE_CHECKING``.
An import of ``bot.storage`` means the package's ``__init__.py``;
``from bot.storage import schema`` means the submodule ``bot.storage.schema``.

- No cycle among the project's modules (bot, actions, scripts).
- bot/domain is plain Python: no Rasa, web framework, socket.io, TensorFlow
  or database driver, imported directly.
- bot/domain imports nothing from the applications or the databases
  (bot/rasa, bot/console, bot/storage, actions).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT_PACKAGES = ("bot", "actions", "scripts")
DOMAIN = "bot.domain"
DOMAIN_MAY_NOT_USE_LIBRARIES = frozenset(
    {"rasa", "rasa_sdk", "sanic", "sqlalchemy", "psycopg2", "redis", "sqlite3", "sqlite_utils"}
    | {"socketio", "tensorflow"}
)
DOMAIN_MAY_NOT_USE_PARTS = ("bot.rasa", "bot.console", "bot.storage", "actions")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for package in PROJECT_PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def imported_names(source: str, module: str, is_package: bool) -> set[str]:
    """Every dotted name the source imports: ``import a.b`` gives ``a.b``, ``from a import b`` ``a.b``."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                base = ".".join([*package[: len(package) - node.level + 1], *([base] if base else [])])
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def imports_of(module: str, path: Path) -> set[str]:
    return imported_names(path.read_text(encoding="utf-8"), module, path.name == "__init__.py")


def resolve(name: str, modules: Mapping[str, Path]) -> str | None:
    """The project module that importing ``name`` means: its longest prefix that is one."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        if (candidate := ".".join(parts[:end])) in modules:
            return candidate
    return None


def import_graph(modules: Mapping[str, Path]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets = {resolve(name, modules) for name in imports_of(module, path)}
        graph[module] = {target for target in targets if target is not None and target != module}
    return graph


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    lowlink: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = lowlink[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                lowlink[node] = min(lowlink[node], lowlink[target])
            elif target in on_stack:
                lowlink[node] = min(lowlink[node], index[target])
        if lowlink[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def domain_violations(modules: Mapping[str, Path]) -> list[str]:
    violations = []
    for module, path in modules.items():
        if module != DOMAIN and not module.startswith(f"{DOMAIN}."):
            continue
        for name in sorted(
            imported_names(path.read_text(encoding="utf-8"), module, path.name == "__init__.py")
        ):
            if name.split(".")[0] in DOMAIN_MAY_NOT_USE_LIBRARIES:
                violations.append(f"{module} imports the library {name}")
            elif any(name == part or name.startswith(f"{part}.") for part in DOMAIN_MAY_NOT_USE_PARTS):
                violations.append(f"{module} imports {name}")
    return violations


def test_no_import_cycle_among_the_projects_modules() -> None:
    assert cycles(import_graph(project_modules())) == []


def test_the_domain_imports_no_framework_driver_or_application() -> None:
    assert domain_violations(project_modules()) == []


def test_the_graph_sees_function_level_and_submodule_imports() -> None:
    graph = import_graph(project_modules())
    assert "bot.rasa.patches" in graph["bot.rasa.__main__"]  # from bot.rasa import patches
    assert "bot.console.app" in graph["bot.console.cli"]  # imported inside a function
    assert "bot.storage.schema" in graph["bot.storage.migrations"]  # from bot.storage import schema
    assert "bot.storage" not in graph["bot.storage.migrations"]


def test_the_cycle_finder_on_a_synthetic_graph() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": {"e"}, "e": {"d"}, "f": {"a"}, "g": set()}
    assert sorted(cycles(graph)) == [["a", "b", "c"], ["d", "e"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_a_domain_violation_is_reported(tmp_path: Path) -> None:
    domain = tmp_path / "domain.py"
    domain.write_text(
        "import sqlite3\n\n\ndef later():\n"
        "    from bot.storage.cases import SQLCaseStore\n"
        "    from rasa.core import x\n"
    )
    assert domain_violations({"bot.domain.example": domain}) == [
        "bot.domain.example imports bot.storage.cases.SQLCaseStore",
        "bot.domain.example imports the library rasa.core.x",
        "bot.domain.example imports the library sqlite3",
    ]
