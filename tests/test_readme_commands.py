"""The newcomer's path: what README.md and docs/*.md tell a reader to run or open exists.

Every name is read from the documents, none is listed here, so moving a module
or a file means editing the documents, and a document that names something
missing fails. Checked, without starting any server or needing a model:

- each ``make TARGET`` is a target in make's own database of the Makefile;
- each ``.venv/bin/PROGRAM`` is installed, each ``python -m MODULE`` is
  importable (a package with a ``__main__``);
- each repository path (``bot/storage/``, ``domain.yml``) exists, unless git
  ignores it because the project writes it (``var/cases.db``, ``models/…``);
- each relative link (and its ``#anchor``) leads to a file (and a heading);
- each local URL path is a route of the server behind it: the ports are those
  the Makefile's ``run`` recipe starts each server on; the console's routes
  come from its real Sanic app, Rasa's from the channels ``credentials.yml``
  names, read from their source (importing them loads TensorFlow, half a
  minute on a busy machine). Rasa mounts each channel under
  ``/webhooks/<name()>/``, as ``rasa.core.channels.channel.register`` does.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import pkgutil
import re
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from sanic import Sanic

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
WEBHOOKS = "/webhooks/"

FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`([^`\n]+)`")
MAKE = re.compile(r"(?<![\w/.$-])make(?:\s+[A-Z_]+=\S+)*\s+([a-z][\w-]*)")
PROGRAM = re.compile(r"(?<![\w/])\.venv/bin/([\w.-]+)")
PYTHON_MODULE = re.compile(r"\bpython[\d.]*\s+-m\s+([\w.]+)")
LINK = re.compile(r"\]\(([^)\s]+)\)|\bsrc=\"([^\"]+)\"")
HEADING = re.compile(r"^#+\s+(.+?)\s*$", re.MULTILINE)
# A URL on this machine, or on the deployed bot's host (a <placeholder> or an example domain).
LOCAL_URL = re.compile(r"(?:https?://)?(?:localhost|127\.0\.0\.1):\d+(?:/[^\s)`'\"<>]*)?")
PUBLIC_URL = re.compile(r"https?://(?:<[^<>\n]+>|[\w.-]+\.example\.\w+)(?:/[^\s)`'\"<>]*)?")
PATH_TOKEN = re.compile(r"\.?[\w-][\w.-]*(?:/[\w.-]+)*/?")
FILE_SUFFIXES = {
    ".py",
    ".yml",
    ".yaml",
    ".md",
    ".toml",
    ".lock",
    ".json",
    ".j2",
    ".html",
    ".css",
    ".js",
    ".png",
}
SANIC_PARAMETER = re.compile(r"<[^>:]+(?::([^>]+))?>")
PARAMETER_PATTERNS = {"path": ".+", "int": r"\d+"}


def code_of(text: str) -> list[str]:
    """Fenced blocks and inline code: where the documents show what to type."""
    return FENCE.findall(text) + INLINE_CODE.findall(FENCE.sub("", text))


def prose_of(text: str) -> str:
    return INLINE_CODE.sub("", FENCE.sub("", text))


def named(pattern: re.Pattern[str], where: Callable[[str], list[str]] = code_of) -> list[tuple[str, str]]:
    """(document, what it names) for every match in the parts ``where`` picks, each once per document."""
    found: dict[tuple[str, str], None] = {}
    for document in DOCUMENTS:
        for chunk in where(document.read_text(encoding="utf-8")):
            for match in pattern.finditer(chunk):
                value = next((group for group in match.groups() if group), match.group(0))
                found[(document.relative_to(ROOT).as_posix(), value.rstrip(".,;:"))] = None
    return list(found)


def ids(items: list[tuple[str, str]]) -> list[str]:
    return [f"{document}: {value}" for document, value in items]


MAKE_TARGETS = named(MAKE)
PROGRAMS = named(PROGRAM)
MODULES = named(PYTHON_MODULE)
URLS = named(LOCAL_URL, lambda text: [text]) + named(PUBLIC_URL, lambda text: [text])


def path_tokens() -> list[tuple[str, str]]:
    found: dict[tuple[str, str], None] = {}
    for document in DOCUMENTS:
        for chunk in code_of(document.read_text(encoding="utf-8")):
            for token in re.split(r"[\s,;()\"'`]+", chunk):
                if "://" in token or token.startswith((".venv/", "-")) or not PATH_TOKEN.fullmatch(token):
                    continue  # URLs and options; programs are checked on their own
                if "/" in token or Path(token).suffix in FILE_SUFFIXES:
                    found[(document.relative_to(ROOT).as_posix(), token)] = None
    return list(found)


PATHS = path_tokens()
LINKS = [
    (document, link)
    for document, link in named(LINK, lambda text: [prose_of(text)])
    if not re.match(r"[a-z]+:", link)  # http:, https:, mailto:
]


def test_the_documents_name_each_kind_of_thing() -> None:
    """An extractor that matches nothing would make its test vacuous."""
    for kind in (MAKE_TARGETS, PROGRAMS, MODULES, URLS, PATHS, LINKS):
        assert kind


# --- make targets -----------------------------------------------------------


@cache
def make_targets() -> set[str]:
    """Targets in make's database (-q runs nothing; the ':' goal only stops make after printing)."""
    database = subprocess.run(
        ["make", "-pRrq", "-f", "Makefile", ":"], cwd=ROOT, capture_output=True, text=True
    ).stdout
    lines = database.splitlines()
    return {
        match.group(1)
        for previous, line in zip(["", *lines], lines, strict=False)
        if previous != "# Not a target:" and (match := re.match(r"([A-Za-z0-9][\w.-]*):(?!=)", line))
    }


@pytest.mark.parametrize(("document", "target"), MAKE_TARGETS, ids=ids(MAKE_TARGETS))
def test_make_targets_exist(document: str, target: str) -> None:
    assert target in make_targets(), f"{document} names `make {target}`, which the Makefile does not have"


# --- programs and modules ---------------------------------------------------


@pytest.mark.parametrize(("document", "program"), PROGRAMS, ids=ids(PROGRAMS))
def test_programs_exist(document: str, program: str) -> None:
    assert (ROOT / ".venv" / "bin" / program).is_file(), f"{document} runs .venv/bin/{program}"


@pytest.mark.parametrize(("document", "module"), MODULES, ids=ids(MODULES))
def test_modules_run_with_python_m(document: str, module: str) -> None:
    spec = importlib.util.find_spec(module)
    assert spec is not None, f"{document} runs `python -m {module}`, which is not importable"
    if spec.submodule_search_locations is not None:
        assert importlib.util.find_spec(f"{module}.__main__"), f"{module} is a package without __main__"


# --- paths and links --------------------------------------------------------


@cache
def repository_entries() -> set[str]:
    """Files the repository has (tracked or new), and the folders holding them."""
    listing = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    folders = {parent.as_posix() for file in listing for parent in Path(file).parents}
    return set(listing) | folders


def ignored(path: str) -> bool:
    """True for what the project writes itself (var/, models/, bench/results/)."""
    return subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT).returncode == 0


@pytest.mark.parametrize(("document", "path"), PATHS, ids=ids(PATHS))
def test_paths_exist(document: str, path: str) -> None:
    entries = repository_entries()
    if "/" not in path:  # a bare file name (`domain.yml`, `schema.py`): somewhere in the repository
        assert path in {Path(entry).name for entry in entries}, f"{document} names {path}"
        return
    name = path.removeprefix("./")
    assert name.rstrip("/") in entries or ignored(name), (
        f"{document} names {path}, which the repository lacks"
    )


def anchors(document: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    text = FENCE.sub("", document.read_text(encoding="utf-8"))
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in HEADING.findall(text)}


@pytest.mark.parametrize(("document", "link"), LINKS, ids=ids(LINKS))
def test_links_resolve(document: str, link: str) -> None:
    target, _, anchor = link.partition("#")
    path = (ROOT / document).parent / target if target else ROOT / document
    assert path.exists(), f"{document} links to {link}, which does not exist"
    if anchor:
        assert path.suffix == ".md" and anchor in anchors(path), (
            f"{document} links to a missing heading: {link}"
        )


# --- local URLs -------------------------------------------------------------


def module_file(module: str) -> Path:
    """A module's source, found without importing its packages (rasa.core.channels imports all of Rasa)."""
    top, *rest = module.split(".")
    spec = importlib.util.find_spec(top)
    assert spec is not None and spec.origin is not None, module
    path = Path(spec.origin).parent.joinpath(*rest)
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def class_source(module: str, name: str) -> tuple[ast.ClassDef, dict[str, str]]:
    """The class's definition, and where the names its module imports come from."""
    tree = ast.parse(module_file(module).read_text(encoding="utf-8"))
    imports = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module:
            package = module.rsplit(".", node.level)[0] + "." if node.level else ""
            imports |= {
                alias.asname or alias.name: f"{package}{node.module}.{alias.name}" for alias in node.names
            }
    definition = next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == name)
    return definition, imports


def method(definition: ast.ClassDef, name: str) -> ast.FunctionDef | None:
    return next(
        (node for node in definition.body if isinstance(node, ast.FunctionDef) and node.name == name), None
    )


def lineage(dotted: str) -> Iterator[ast.ClassDef]:
    """The class and the bases it names, nearest first, as far as their source is Python."""
    module, name = dotted.rsplit(".", 1)
    definition, imports = class_source(module, name)
    yield definition
    for base in definition.bases:
        if isinstance(base, ast.Name) and base.id in imports:
            yield from lineage(imports[base.id])


def channel_name(classes: list[ast.ClassDef]) -> str:
    for definition in classes:
        found = method(definition, "name")
        for node in ast.walk(found) if found else []:
            if isinstance(node, ast.Return) and isinstance(node.value, ast.Constant):
                return node.value.value
    raise AssertionError(f"no name() in {classes[0].name}")


def blueprint_routes(classes: list[ast.ClassDef]) -> set[str]:
    """Routes declared in blueprint(), and in the bases' while it calls super().blueprint()."""
    routes: set[str] = set()
    for definition in classes:
        blueprint = method(definition, "blueprint")
        if blueprint is None:
            continue
        for node in ast.walk(blueprint):
            if isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef):
                for decorator in node.decorator_list:
                    if (
                        isinstance(decorator, ast.Call)
                        and isinstance(decorator.func, ast.Attribute)
                        and decorator.func.attr in ("route", "get", "post")
                        and decorator.args
                        and isinstance(decorator.args[0], ast.Constant)
                    ):
                        routes.add(decorator.args[0].value)
        calls_super = any(
            isinstance(node, ast.Attribute)
            and node.attr == "blueprint"
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name)
            and node.value.func.id == "super"
            for node in ast.walk(blueprint)
        )
        if not calls_super:
            break
    return routes


@cache
def rasa_routes() -> frozenset[str]:
    credentials = yaml.safe_load((ROOT / "credentials.yml").read_text(encoding="utf-8"))
    routes = set()
    for dotted in credentials:
        classes = list(lineage(dotted))
        prefix = WEBHOOKS + channel_name(classes)
        routes |= {prefix + route for route in blueprint_routes(classes)}
    return frozenset(routes)


def commands_in_run_recipe() -> list[str]:
    recipe = re.search(
        r"^run:.*\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(encoding="utf-8"), re.MULTILINE
    )
    assert recipe, "the Makefile has no run recipe"
    return recipe.group(1).splitlines()


def console_module() -> str:
    """The module the documents serve the console with (`python -m MODULE serve`)."""
    modules = {module for _, module in named(re.compile(r"\bpython[\d.]*\s+-m\s+([\w.]+)\s+serve\b"))}
    assert len(modules) == 1, f"the documents serve the console with {modules or 'nothing'}"
    return modules.pop()


@cache
def servers_by_port() -> dict[str, str]:
    """What `make run` starts on each port: 'rasa', 'actions' or 'console'."""
    servers = {}
    # `make run RASA_PORT=5006` moves a server; the README names the defaults (`RASA_PORT ?= 5005`).
    defaults = dict(re.findall(r"^(\w+) \?= (\S+)$", (ROOT / "Makefile").read_text(), re.MULTILINE))
    for line in commands_in_run_recipe():
        line = re.sub(r"\$\((\w+)\)", lambda name: defaults.get(name.group(1), name.group(0)), line)
        port = re.search(r"--port (\d+)", line)
        if port is None or "echo" in line:
            continue
        if f"-m {console_module()} serve" in line:
            servers[port.group(1)] = "console"
        elif " run actions" in line:
            servers[port.group(1)] = "actions"
        elif " run " in line:
            servers[port.group(1)] = "rasa"
    return servers


@pytest.fixture(scope="module")
def console_routes() -> Iterator[frozenset[str]]:
    """The routes of the console's real app, built on throwaway SQLite databases."""
    package = importlib.import_module(console_module())
    factories = [
        module.create_app
        for info in pkgutil.iter_modules(package.__path__)
        if not info.name.startswith("__")  # __main__ would run the command line
        for module in [importlib.import_module(f"{package.__name__}.{info.name}")]
        if getattr(getattr(module, "create_app", None), "__module__", None) == module.__name__
    ]
    assert len(factories) == 1, f"{package.__name__} has {len(factories)} create_app"
    Sanic.test_mode = True  # other tests build apps of the same name
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as environment:
        environment.setenv("CASE_STORE_URL", f"sqlite:///{folder}/cases.db")
        environment.setenv("TRACKER_DB_URL", f"sqlite:///{folder}/tracker.db")
        app = factories[0]()
        yield frozenset("/" + route.path for route in app.router.routes)
        app.ctx.store.close()
        app.ctx.tracker.close()


def route_pattern(route: str) -> re.Pattern[str]:
    """A Sanic route as a regex: <x:path> spans folders, <x:int> digits, others one segment."""
    parts = SANIC_PARAMETER.split(route.rstrip("/"))
    literal, kinds = parts[::2], parts[1::2]
    pattern = "".join(
        re.escape(text) + (PARAMETER_PATTERNS.get(kind or "", "[^/]+") if index < len(kinds) else "")
        for index, (text, kind) in enumerate(zip(literal, [*kinds, None], strict=True))
    )
    return re.compile(pattern + "/?")


def served_file(routes: frozenset[str], path: str) -> str | None:
    """What a <x:path> route would serve for this URL path: a file the repository must have."""
    for route in routes:
        if ":path>" in route and route_pattern(route).fullmatch(path):
            return path[len(SANIC_PARAMETER.split(route)[0]) :]
    return None


@pytest.mark.parametrize(("document", "url"), URLS, ids=ids(URLS))
def test_local_urls_are_routes(document: str, url: str, console_routes: frozenset[str]) -> None:
    parts = urlsplit(url if "://" in url else f"http://{url}")
    # A bare host:port names the server; the deployed host (and cluster mode's balancer) is Rasa.
    server = servers_by_port().get(str(parts.port), "rasa") if parts.port else "rasa"
    if not parts.path:
        assert not parts.port or str(parts.port) in servers_by_port(), (
            f"{document}: `make run` starts nothing on {url}"
        )
        return
    routes = {"rasa": rasa_routes(), "console": console_routes}.get(server)
    assert routes is not None, (
        f"{document}: {url} is on the {server} server, whose routes this test does not know"
    )
    assert any(route_pattern(route).fullmatch(parts.path) for route in routes), (
        f"{document}: {parts.path} is not a route of the {server} server ({url})"
    )
    served = served_file(frozenset(routes), parts.path)
    if served is not None:
        assert any(entry.endswith("/" + served) for entry in repository_entries()), (
            f"{document}: nothing serves {url}"
        )
