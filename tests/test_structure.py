"""The package's layering, read from the source with ``ast`` (nothing is imported): no import cycle
between zoo modules, imports inside functions included; zoo.models and zoo.registry below everything
that builds, loads, trains or reads; files and functions small enough to read.

An edge A -> B is an ``import`` or ``from ... import`` anywhere in A (module level or inside a
function) that names B, or a name of B (``from zoo.models import grcnn`` names the module
zoo.models.grcnn, ``from zoo.checkpoint import load`` names zoo.checkpoint). Importing a submodule
also runs its parent packages' ``__init__``; those implicit edges are left out, since every package
imports its own submodules and a parent would otherwise close a loop with each of them.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "zoo"
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60
# What zoo.models may import besides zoo.models.* and the leaves: the registry it registers in.
MODELS_MAY_IMPORT = {"zoo.registry"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def zoo_sources() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported_names(tree: ast.AST, module: str, is_package: bool) -> list[str]:
    """Every dotted name an import in ``tree`` asks for: ``a.b`` for ``import a.b``, ``a.b.x`` for
    ``from a.b import x`` (relative imports resolved against ``module``)."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".") if is_package else module.split(".")[:-1]
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            names += [f"{base}.{alias.name}" for alias in node.names]
    return names


def import_graph(sources: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the zoo modules it imports: each imported name cut back to the longest known module."""
    graph = {}
    for module, path in sources.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        edges = set()
        for name in imported_names(tree, module, path.name == "__init__.py"):
            while name and name not in sources:
                name = name.rpartition(".")[0]
            if name and name != module:
                edges.add(name)
        graph[module] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None: depth-first search, a back edge closes a cycle."""
    done: set[str] = set()
    path: list[str] = []
    on_path: set[str] = set()

    def visit(node: str) -> list[str] | None:
        path.append(node)
        on_path.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt in on_path:
                return path[path.index(nxt):] + [nxt]
            if nxt not in done and (cycle := visit(nxt)):
                return cycle
        on_path.discard(path.pop())
        done.add(node)
        return None

    for start in sorted(graph):
        if start not in done and (cycle := visit(start)):
            return cycle
    return None


def leaf_helpers(sources: dict[str, Path], graph: dict[str, set[str]]) -> set[str]:
    """The helpers at the package's top (zoo.hints, zoo.alphabets, zoo.fileio, ...): modules directly
    in zoo/, not packages, that import no zoo module. A module deep in another layer that happens to
    import nothing (zoo.train.loss) is still of that layer."""
    return {m for m, edges in graph.items() if not edges and m.count(".") == 1 and sources[m].name != "__init__.py"}


SOURCES = zoo_sources()
GRAPH = import_graph(SOURCES)
LEAVES = leaf_helpers(SOURCES, GRAPH)


def test_the_cycle_finder_finds_a_cycle_and_names_its_modules():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"a"}}) == ["a", "a"]


def test_the_graph_sees_imports_inside_functions(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "low.py").write_text("def f():\n    from pkg.high import g\n")
    (tmp_path / "pkg" / "high.py").write_text("from pkg import low\nfrom . import low as again\n")
    sources = {".".join(p.relative_to(tmp_path).with_suffix("").parts).removesuffix(".__init__"): p
               for p in (tmp_path / "pkg").glob("*.py")}
    graph = import_graph(sources)
    assert graph["pkg.low"] == {"pkg.high"} and graph["pkg.high"] == {"pkg.low"}
    assert find_cycle(graph) == ["pkg.high", "pkg.low", "pkg.high"]


def test_no_import_cycle_between_zoo_modules():
    cycle = find_cycle(GRAPH)
    assert cycle is None, f"import cycle: {' -> '.join(cycle)}"


def test_models_import_only_models_the_registry_and_leaves():
    allowed = MODELS_MAY_IMPORT | LEAVES
    wrong = {module: sorted(e for e in edges if not e.startswith("zoo.models") and e not in allowed)
             for module, edges in GRAPH.items() if module.startswith("zoo.models")}
    assert not {m: e for m, e in wrong.items() if e}, \
        f"zoo.models may import only zoo.models.*, {sorted(allowed)}; these import more: {wrong}"


def test_the_registry_is_a_leaf_above_leaves_only():
    assert GRAPH["zoo.registry"] <= LEAVES, f"zoo.registry imports {sorted(GRAPH['zoo.registry'] - LEAVES)}, " \
                                            f"which are not leaf helpers ({sorted(LEAVES)})"


def test_the_data_layer_does_not_import_the_model_layers():
    above = ("zoo.registry", "zoo.factory", "zoo.models", "zoo.checkpoint")
    wrong = {m: sorted(e for e in edges if e.startswith(above)) for m, edges in GRAPH.items() if m.startswith("zoo.data")}
    assert not {m: e for m, e in wrong.items() if e}, wrong


def oversized(paths, root: Path) -> list[str]:
    """Files over MAX_FILE_LINES lines and functions over MAX_FUNCTION_LINES, named relative to ``root``."""
    found = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        where = path.relative_to(root).as_posix()
        if len(text.splitlines()) > MAX_FILE_LINES:
            found.append(f"{where} ({len(text.splitlines())} lines)")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    found.append(f"{where}:{node.name} ({lines} lines)")
    return found


def test_no_file_over_400_lines_and_no_function_over_60():
    too_long = oversized(SOURCES.values(), PACKAGE.parent)
    assert too_long == [], f"split these: {', '.join(too_long)}"


@pytest.mark.parametrize("source, expected", [
    ("x = 1\n" * (MAX_FILE_LINES + 1), "big.py (401 lines)"),
    ("def f():\n" + "    x = 1\n" * MAX_FUNCTION_LINES, "big.py:f (61 lines)"),
    ("def f():\n" + "    x = 1\n" * (MAX_FUNCTION_LINES - 1), None),
])
def test_the_size_check_names_what_is_too_long(tmp_path, source, expected):
    (tmp_path / "big.py").write_text(source)
    assert oversized([tmp_path / "big.py"], tmp_path) == ([expected] if expected else [])
