"""Dependencies point downward only (docs/architecture.md, "Layers").

``envs`` < ``rllib_meta.core`` < ``rllib_meta.evaluation`` < ``rllib_meta.algorithms`` < the
command line: each layer imports only from itself and the layers below, and one algorithm's
folder imports no other algorithm's folder (each keeps its own evaluation protocol). The checks
read every module's ``import`` statements with :mod:`ast` (also those inside functions and
``if TYPE_CHECKING:``, since a lazy import is still a dependency) and follow them transitively,
so importing a module that imports a forbidden one is caught too. Imports by string
(``importlib``, ``"module:Class"`` names) are not seen.
"""

import ast
from collections import deque
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("envs", "rllib_meta")

# Layer -> what no module of it may import, directly or through other modules.
FORBIDDEN = {
    "envs": ("rllib_meta",),
    "rllib_meta.core": ("rllib_meta.algorithms", "rllib_meta.evaluation", "rllib_meta.cli"),
    "rllib_meta.evaluation": ("rllib_meta.algorithms", "rllib_meta.cli"),
}
# The layers whose package-level import graph must have no cycle.
LAYERS = ("envs", "rllib_meta.core", "rllib_meta.evaluation", "rllib_meta.algorithms")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    """Every module of the two packages: dotted name -> file."""
    found = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            found[module_name(path)] = path
    return found


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


@cache
def imports_of(name: str) -> frozenset[str]:
    """The project modules (and packages) that module ``name`` imports anywhere in its file."""
    path = modules()[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from . import x, from ..y import z
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # submodules
    return frozenset(n for n in found if n in modules())


def reachable(name: str) -> dict[str, str]:
    """Every project module that importing ``name`` pulls in (by static imports), each with
    the module that imports it, so that a chain can be printed."""
    parents = {name: ""}
    queue = deque([name])
    while queue:
        current = queue.popleft()
        for imported in sorted(imports_of(current)):
            if imported not in parents:
                parents[imported] = current
                queue.append(imported)
    return parents


def chain(parents: dict[str, str], end: str) -> str:
    steps = [end]
    while parents[steps[-1]]:
        steps.append(parents[steps[-1]])
    return " -> ".join(reversed(steps))


def test_the_import_reader_sees_the_modules_and_their_imports():
    names = modules()
    for expected in (
        "envs.matrix.games",
        "envs.matrix.personas",
        "rllib_meta.core.dice",
        "rllib_meta.core.rule_fields",
        "rllib_meta.evaluation.checkpoints",
        "rllib_meta.algorithms.meta_mapg.meta_test",
        "rllib_meta.cli",
    ):
        assert expected in names
    assert "rllib_meta.evaluation.checkpoints" in imports_of("rllib_meta.evaluation.episodes")
    # Lazy imports inside functions count.
    assert "rllib_meta.algorithms.meta_value.learning_dynamics" in imports_of(
        "rllib_meta.algorithms.meta_value.algorithm"
    )
    # `from package import module` names the module.
    assert "rllib_meta.core.learning_rules" in imports_of("rllib_meta.core.rule_fields")


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_imports_nothing_above_it(layer):
    violations = []
    for name in modules():
        if not within(name, layer):
            continue
        parents = reachable(name)
        for imported in parents:
            if any(within(imported, banned) for banned in FORBIDDEN[layer]):
                violations.append(chain(parents, imported))
    assert not violations, f"{layer} must not import {FORBIDDEN[layer]}:\n" + "\n".join(violations)


def algorithm_folders() -> set[str]:
    """The folders of the registered algorithms (``rllib_meta.algorithms.meta_mapg``, ...):
    the package below ``rllib_meta.algorithms`` that holds each one's module (a sibling kept in
    a subpackage, ``stackelberg/atari_trade/``, belongs to its folder); their shared base
    (``algorithms/base/``) is not one."""
    from rllib_meta.algorithms import ALGORITHMS

    return {".".join(target.partition(":")[0].split(".")[:3]) for target in ALGORITHMS.values()}


def test_no_algorithm_imports_another_algorithms_folder():
    folders = algorithm_folders()
    assert "rllib_meta.algorithms.meta_mapg" in folders
    violations = []
    for folder in sorted(folders):
        others = folders - {folder}
        for name in modules():
            if not within(name, folder):
                continue
            parents = reachable(name)
            violations += [
                chain(parents, imported)
                for imported in parents
                if any(within(imported, other) for other in others)
            ]
    assert not violations, "\n".join(violations)


def test_the_layers_import_each_other_without_a_cycle():
    def layer_of(name: str) -> str | None:
        return next((layer for layer in LAYERS if within(name, layer)), None)

    edges: dict[str, dict[str, str]] = {layer: {} for layer in LAYERS}  # a -> b: example
    for name in modules():
        source = layer_of(name)
        for imported in imports_of(name):
            target = layer_of(imported)
            if source and target and target != source:
                edges[source].setdefault(target, f"{name} imports {imported}")

    def reached_from(layer: str) -> set[str]:
        seen, todo = set(), [layer]
        while todo:
            for target in edges[todo.pop()]:
                if target not in seen:
                    seen.add(target)
                    todo.append(target)
        return seen

    reach = {layer: reached_from(layer) for layer in LAYERS}
    # An edge a -> b lies on a cycle when b leads back to a.
    on_cycle = [
        example
        for source, targets in edges.items()
        for target, example in targets.items()
        if source in reach[target]
    ]
    assert not on_cycle, "import cycle between layers:\n" + "\n".join(on_cycle)
