"""The arrows between the rooms of ``hdl/`` (docs/architecture.md, "Rooms and the direction of imports").

Read from the source with :mod:`ast`, nothing imported: every ``import`` of every module under
``hdl/`` and ``golden/`` names a module; its room must be one the importer's room may use, a
sibling room only through its package (``from ..store import DataStore``, never
``..store.data_store``), and the modules must not import in a circle (a part never imports its
parent, which imports it).
"""

import ast
from pathlib import Path

import pytest

from conftest import ROOT

#: room -> the rooms it may import ("" is hdl/'s own shared modules: arith, layout, protocol, ...)
ALLOWED = {
    "": set(),
    "lanes": {""},
    "rules": {"", "lanes"},
    "store": {""},
    "core": {"", "lanes", "rules", "store"},
    "link": {"", "core", "store"},
    "boards": {"", "link", "core", "store"},
}


def module_name(path: Path, root: Path) -> str:
    """``trifactor.hdl.core.learner`` for ``hdl/core/learner.py`` under ``root``."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["trifactor", *parts])


def imports_of(source: str, name: str, is_package: bool, root: Path) -> list[str]:
    """The modules (or package members) that ``source``, the module ``name`` under ``root``, imports: absolute names."""
    package = name if is_package else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            # ``from ..store import data_store`` names a module, ``from ..store import record_source`` the
            # function the package exports under the same name: the package's own imports tell them apart
            found += [base] + [f"{base}.{alias.name}" for alias in node.names if alias.name not in exports(base, root)]
    return found


def exports(package: str, root: Path) -> set[str]:
    """The names a package under ``root`` binds in its ``__init__.py`` by importing them."""
    init = root.joinpath(*package.split(".")[1:], "__init__.py")
    if not package.startswith("trifactor.") or not init.exists():
        return set()
    return {alias.asname or alias.name for node in ast.walk(ast.parse(init.read_text()))
            if isinstance(node, ast.ImportFrom) for alias in node.names}


def room_of(name: str) -> str | None:
    """The room of a module under ``trifactor.hdl``: ``core`` for ``trifactor.hdl.core.sweeper``, "" for
    ``trifactor.hdl.layout``; None outside ``hdl``."""
    parts = name.split(".")
    if parts[:2] != ["trifactor", "hdl"]:
        return None
    return parts[2] if len(parts) > 2 and parts[2] in ALLOWED else ""


def violations(root: Path) -> list[str]:
    """Every import under ``root/hdl`` and ``root/golden`` that breaks the rules, one line each."""
    modules = {}
    for folder in ("hdl", "golden"):
        for path in sorted((root / folder).rglob("*.py")):
            modules[module_name(path, root)] = path
    graph, problems = {}, []
    for name, path in modules.items():
        targets = imports_of(path.read_text(), name, path.name == "__init__.py", root)
        graph[name] = {t for t in targets if t in modules and t != name}
        where = path.relative_to(root)
        for target in targets:
            if name.startswith("trifactor.golden") and target.startswith(("trifactor.hdl", "trifactor.scripts")):
                problems.append(f"{where}: golden (the specification) imports {target}")
            if name.startswith("trifactor.hdl") and target.startswith("trifactor.scripts"):
                problems.append(f"{where}: hardware imports the scripts layer ({target})")
            mine, theirs = room_of(name), room_of(target)
            if mine is None or theirs is None or mine == theirs:
                continue
            if theirs not in ALLOWED[mine]:
                said = f"{where}: room {mine or 'hdl'} imports room {theirs} "
                if not any(p.startswith(said) for p in problems):  # ``from x.y import a, b``: once
                    problems.append(f"{said}({target}); {mine or 'hdl'} may import "
                                    f"{sorted(r or 'hdl' for r in ALLOWED[mine]) or 'nothing'}")
            elif theirs and target in modules and not modules[target].name == "__init__.py":
                problems.append(f"{where}: imports {target}, inside room {theirs}; import it from trifactor.hdl.{theirs}")
    problems += [f"import cycle: {' -> '.join(cycle)}" for cycle in cycles(graph)]
    return problems


def cycles(graph: dict) -> list[list[str]]:
    """One cycle per strongly connected part of ``graph`` that has one (depth-first search)."""
    found, state = [], {}

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                found.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_imports_point_one_way():
    problems = violations(ROOT)
    assert not problems, "\n".join(problems)


def test_every_room_is_in_the_rules():
    rooms = {p.name for p in (ROOT / "hdl").iterdir() if (p / "__init__.py").exists()}
    assert rooms == set(ALLOWED) - {""}


@pytest.mark.parametrize("where, line, words", [
    # a part importing its parent: the sweeper the core that wires it
    ("hdl/core/sweeper.py", "from .learner import LearnerCore", ["import cycle", "learner", "sweeper"]),
    # a lower room importing a higher one
    ("hdl/store/data_store.py", "from ..core import LearnerCore", ["room store imports room core"]),
    # a sibling room's internals
    ("hdl/link/uart.py", "from ..store.data_store import DataStore", ["inside room store"]),
    # the specification importing the hardware
    ("golden/fixed_model.py", "from trifactor.hdl.layout import WeightLayout", ["golden (the specification)"]),
])
def test_a_wrong_import_is_found(tmp_path, where, line, words):
    """The checker on a copy of the tree with one wrong import added: it names it."""
    for folder in ("hdl", "golden"):
        for path in (ROOT / folder).rglob("*.py"):
            copy = tmp_path / path.relative_to(ROOT)
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_text(path.read_text())
    (tmp_path / where).write_text((tmp_path / where).read_text() + f"\n{line}\n")
    problems = "\n".join(violations(tmp_path))
    for word in words:
        assert word in problems, problems
