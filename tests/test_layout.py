"""The shape of the package, read with ``ast`` from the source of every module of ``rag/``: the graph of ``rag.*``
imports (at module level and inside functions) has no cycle, lower layers never import higher ones, and nothing
in ``rag`` imports the HTTP service or its frameworks; in a fresh interpreter, importing the library loads none of
them and changes nothing process-wide."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "rag"
SERVICE = ("api", "fastapi", "starlette", "uvicorn")

LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "foundation",
        ("rag.types", "rag.errors", "rag.settings", "rag.jsonl", "rag.textforms", "rag.language", "rag.net"),
    ),
    ("embedding", ("rag.embedding", "rag.distributed")),  # the model, here or on Ray actors
    ("ingest", ("rag.ingest", "rag.ingest.*")),
    ("index", ("rag.index", "rag.index.*")),
    ("search", ("rag.search", "rag.search.*")),
    ("applications", ("rag.batch", "rag.eval", "rag.eval.*", "rag.watch")),
    ("edge", ("rag", "rag.__main__", "rag.cli", "rag.runtime")),
]
"""Bottom first. ``rag.runtime`` (process-wide set-up) belongs to the edge: only the CLI (and the service) call it."""
ORDER = {name: position for position, (name, _) in enumerate(LAYERS)}

ALLOWED: dict[str, set[str]] = {
    "foundation": {"foundation"},
    "embedding": {"foundation", "embedding"},
    "ingest": {"foundation", "ingest"},
    "index": {"foundation", "embedding", "ingest", "index"},
    "search": {"foundation", "embedding", "index", "search"},
    "applications": {"foundation", "embedding", "ingest", "index", "search", "applications"},
    "edge": {"foundation", "index", "search", "applications", "edge"},
}
"""Which layers each layer imports today: a new kind of dependency is a decision, made here on purpose."""


@dataclass(frozen=True)
class Import:
    source: str
    """The importing module."""
    target: str
    """The module imported (``from rag.x import y`` is ``rag.x.y`` when that is a module, else ``rag.x``)."""
    line: int
    where: str
    """``module``, ``function`` (inside a function body) or ``type-checking`` (under ``if TYPE_CHECKING``)."""

    def __str__(self) -> str:
        return f"{self.source} imports {self.target} ({self.where}, {module_path(self.source)}:{self.line})"


def module_names() -> dict[str, Path]:
    names = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


MODULES = module_names()


def module_path(name: str) -> str:
    return str(MODULES[name].relative_to(PACKAGE.parent))


def _context(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> str:
    while (node := parents.get(node)) is not None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            return "function"
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return "type-checking"
    return "module"


def imports_of(name: str) -> list[Import]:
    """Every import statement of module ``name``, absolute and relative, wherever it stands."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[: len(package) - node.level + 1], *([base] if base else [])])
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        where = _context(node, parents)
        found += [Import(name, target, node.lineno, where) for target in dict.fromkeys(targets)]
    return found


ALL_IMPORTS = [i for name in MODULES for i in imports_of(name)]
RAG_IMPORTS = [i for i in ALL_IMPORTS if i.target == "rag" or i.target.startswith("rag.")]


def layer_of(module: str) -> str:
    matches = [name for name, patterns in LAYERS if any(fnmatchcase(module, p) for p in patterns)]
    assert len(matches) == 1, f"{module} belongs to layers {matches}; place it in exactly one layer of LAYERS"
    return matches[0]


def cycles(edges: list[Import]) -> list[list[str]]:
    """The strongly connected components with more than one module (or a module importing itself), by Tarjan."""
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for edge in edges:
        graph[edge.source].add(edge.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph[node]:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def test_every_import_of_rag_names_a_module_of_rag() -> None:
    unknown = [str(i) for i in RAG_IMPORTS if i.target not in MODULES]
    assert not unknown, unknown
    assert len(MODULES) > 30 and {"rag.types", "rag.cli", "rag.index.store", "rag.search.fusion"} <= set(MODULES)


def test_every_module_has_one_layer() -> None:
    for module in MODULES:
        layer_of(module)


def test_the_allowed_edges_respect_the_layer_order() -> None:
    assert list(ALLOWED) == [name for name, _ in LAYERS]
    for layer, targets in ALLOWED.items():
        upward = sorted(t for t in targets if ORDER[t] > ORDER[layer])
        assert not upward, f"{layer} may not import the higher layers {upward}"


def test_lower_layers_never_import_higher_ones() -> None:
    wrong = [
        f"{i} from layer {layer_of(i.source)} to layer {layer_of(i.target)}"
        for i in RAG_IMPORTS
        if layer_of(i.target) not in ALLOWED[layer_of(i.source)]
    ]
    assert not wrong, "\n".join(wrong)


def test_the_import_graph_has_no_cycle() -> None:
    assert cycles([i for i in RAG_IMPORTS if i.where != "type-checking"]) == []


def service_imports() -> list[Import]:
    return [i for i in ALL_IMPORTS if i.target.split(".")[0] in SERVICE]


def test_rag_never_imports_the_service_or_its_frameworks() -> None:
    """``rag serve`` is the service's own command (``api/cli.py``), found through an entry point."""
    assert [str(i) for i in service_imports()] == []


PROBE = """
import json, logging, os, sys
before = dict(os.environ)
import rag
rag.Settings, rag.Document, rag.RagError  # public names load on first use
light = sorted(m for m in sys.modules if m.split(".")[0] in {service})
import importlib
for name in {modules}:
    importlib.import_module(name)
print(json.dumps({{
    "after_import_rag": light,
    "after_every_module": sorted(m for m in sys.modules if m.split(".")[0] in {service}),
    "environment_changed": sorted(k for k in set(before) | set(os.environ) if before.get(k) != os.environ.get(k)),
    "root_handlers": len(logging.getLogger().handlers),
}}))
"""


@pytest.fixture(scope="module")
def fresh_interpreter() -> dict:
    """What a fresh interpreter holds after ``import rag`` and after importing every module of rag (but
    ``rag.__main__``, which runs the CLI)."""
    modules = sorted(m for m in MODULES if m != "rag.__main__")
    code = PROBE.format(service=set(SERVICE), modules=modules)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_importing_rag_loads_no_web_framework(fresh_interpreter: dict) -> None:
    assert fresh_interpreter["after_import_rag"] == []
    assert fresh_interpreter["after_every_module"] == []


def test_importing_rag_changes_nothing_process_wide(fresh_interpreter: dict) -> None:
    """No environment variable set, no logging configured: those belong to the edges (``rag.runtime``, the CLI)."""
    assert fresh_interpreter["environment_changed"] == []
    assert fresh_interpreter["root_handlers"] == 0


def test_test_modules_have_unique_names() -> None:
    """Tests mirror the package in folders without ``__init__.py`` and are imported by basename (pytest's default
    import mode), like the helpers beside ``conftest.py``: two files of one name would collide, and a ``tests/api``
    package would shadow the service."""
    tests = Path(__file__).resolve().parent
    names = [path.name for path in tests.rglob("*.py")]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    assert not list(tests.rglob("__init__.py"))
