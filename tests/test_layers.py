"""The package's layers: every import, wherever it stands (top level, ``TYPE_CHECKING``
blocks, inside functions), points down or within its own folder, and no modules import each
other in a cycle. Also: no module imports pytest's private ``_pytest``."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "nethical_runner"
# Top to bottom; a folder may import its own modules and anything in a lower layer. The domain
# folders share a layer, and their imports of each other must not go round in a circle.
LAYERS = (
    ("__main__", "pytest_plugin", "cli", "api"),
    ("report",),
    ("checks",),
    ("run",),
    ("spec", "data", "models", "metrics", "sla", "drift", "audit"),
    ("_files", "_names", "_escape", "_words", "__init__"),
)
RANK = {folder: rank for rank, folders in enumerate(LAYERS) for folder in folders}


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imported(module: str, path: Path, known: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """The package's modules that ``module`` imports, with the line of each import."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[: len(package) - node.level + 1], *filter(None, [base])])
            names = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module:
                yield name, node.lineno


def folder_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def graph() -> dict[str, set[str]]:
    known = modules()
    return {m: {target for target, _ in imported(m, p, known)} for m, p in known.items()}


def test_every_folder_has_a_layer() -> None:
    assert {folder_of(m) for m in modules()} <= set(RANK)


def test_imports_point_down() -> None:
    known = modules()
    upward = [
        f"{known[m].relative_to(PACKAGE.parent)}:{line} imports {target}"
        for m, path in known.items()
        for target, line in imported(m, path, known)
        if RANK[folder_of(target)] < RANK[folder_of(m)]
    ]
    assert upward == []


def test_no_module_imports_a_cycle() -> None:
    edges = graph()
    cycles, state = [], dict.fromkeys(edges, 0)  # 0 new, 1 on the path, 2 done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for child in sorted(edges[node]):
            if state[child] == 1:
                cycles.append([*path[path.index(child) :], child])
            elif state[child] == 0:
                visit(child, [*path, child])
        state[node] = 2

    for start in sorted(edges):
        if state[start] == 0:
            visit(start, [start])
    assert cycles == []


def test_domain_folders_do_not_depend_on_each_other_in_a_circle() -> None:
    """Importing any module runs its folder's ``__init__`` first, so a circle between folders
    is an import cycle at run time even where no two modules import each other."""
    folders: dict[str, set[str]] = {}
    for module, targets in graph().items():
        here = folder_of(module)
        folders.setdefault(here, set()).update(
            folder_of(t) for t in targets if folder_of(t) != here
        )
    closure = {folder: set(targets) for folder, targets in folders.items()}
    for middle in closure:  # Warshall: what each folder reaches, directly or not
        for folder in closure:
            if middle in closure[folder]:
                closure[folder] |= closure.get(middle, set())
    assert sorted(folder for folder, reached in closure.items() if folder in reached) == []


def test_no_private_pytest_import() -> None:
    private = [
        f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
        for path in PACKAGE.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Import | ast.ImportFrom)
        and any(
            name.split(".")[0] == "_pytest"
            for name in (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
            )
        )
    ]
    assert private == []


@pytest.mark.parametrize("name", ["annotations.py", "models.py"])
def test_no_module_name_shadows_or_misleads(name: str) -> None:
    """``annotations.py`` shadows ``from __future__ import annotations`` in reading, and a
    ``models.py`` outside ``models/`` is mistaken for the model types."""
    assert [p for p in PACKAGE.rglob(name) if p.parent.name != "models"] == []
