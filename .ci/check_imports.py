#!/usr/bin/env python3
"""Import cycles in fovea_ctl may only go away, and imports flow one way through its layers: a new cycle or a new
import of a higher layer fails CI, and so does one that went away while its baseline still lists it (the
ratchets are exact).

Every import counts: top-level, inside functions, under `if TYPE_CHECKING:` — a cycle hidden in a function
is still two modules that cannot be understood, tested or moved apart. `from pkg import name` is an edge to
`pkg.name` when that is a module, else to `pkg`. Standard library only; run from anywhere:

    python3 .ci/check_imports.py            # check against .ci/import_cycles.txt and .ci/layer_violations.txt
    python3 .ci/check_imports.py --update   # drop edges that went away from the baselines (never adds)

A cycle is recorded as its edges: the baseline lists every edge `a -> b` that lies on some import cycle (both
ends in one strongly connected component). A new cycle always puts a new edge on a cycle, however large the
tangle it joins, so this catches it where a list of component members would not.

The layers are declared once, in LAYERS below, top to bottom. A module may import its own layer and any layer
under it; an import of a higher layer (again: every import, wherever it is written) is a violation, reported
with its file:line. Modules of one layer may import each other (reconcile, data and render share one); the
cycle check still holds them apart. A module that belongs to no layer fails until it is declared.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = "fovea_ctl"
BASELINE = Path(__file__).resolve().parent / "import_cycles.txt"
LAYER_BASELINE = Path(__file__).resolve().parent / "layer_violations.txt"

# fovea_ctl's layers, top to bottom (issue 23): a module belongs to the layer of the longest name here that is it
# or a package above it; `fovea_ctl` itself (the version) only as itself.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("fovea_ctl.__main__", "fovea_ctl.cli"),                         # the commands: parse, call, render
    ("fovea_ctl.ops",),                                              # use cases: up, down, status, logs, smoke, ...
    ("fovea_ctl.reconcile", "fovea_ctl.data", "fovea_ctl.render"),   # plan/apply; backup, restore; renderers
    ("fovea_ctl.images", "fovea_ctl.probes", "fovea_ctl.docker"),    # images, readiness, the engine
    ("fovea_ctl.core",),                                             # the project's context and shared primitives
    ("fovea_ctl.model", "fovea_ctl.settings", "fovea_ctl.errors", "fovea_ctl"),  # the stack model, settings, errors
)


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int  # where `source` imports `target` (the first such import)

    def __str__(self) -> str:
        return f"{self.source} -> {self.target}"


def module_names(root: Path) -> dict[str, Path]:
    """Dotted name of every module under root/PACKAGE (a package by its __init__)."""
    names = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


@lru_cache(maxsize=None)
def parsed(source: str) -> ast.Module:
    """Parsed once per distinct source text (checks of planted copies reparse only what changed)."""
    return ast.parse(source)


def statements(tree: ast.Module) -> Iterator[ast.AST]:
    """The statements of `tree` in ast.walk's order, without descending into expressions (no import is inside one):
    a tenth of the nodes, and the unit tier runs this check eight times."""
    todo: deque[ast.AST] = deque([tree])
    while todo:
        node = todo.popleft()
        yield node
        todo.extend(child for child in ast.iter_child_nodes(node)
                    if isinstance(child, (ast.stmt, ast.excepthandler, ast.match_case)))


def imported(module: str, path: Path, modules: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """(module, line) for every import of a fovea_ctl module anywhere in `path`."""
    is_package = path.name == "__init__.py"
    for node in statements(parsed(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in modules:
                    yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the containing package, up level-1 more
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            if origin not in modules:
                continue
            for alias in node.names:
                submodule = f"{origin}.{alias.name}"
                yield (submodule if submodule in modules else origin), node.lineno


def import_graph(root: Path) -> dict[str, dict[str, int]]:
    modules = module_names(root)
    graph: dict[str, dict[str, int]] = {name: {} for name in modules}
    for name, path in modules.items():
        for target, line in imported(name, path, modules):
            if target != name:
                graph[name].setdefault(target, line)
    return graph


def components(graph: dict[str, dict[str, int]]) -> list[set[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[set[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, targets = work[-1]
            for target in targets:
                if target not in index:
                    index[target] = low[target] = counter
                    counter += 1
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(component)
    return found


def cyclic_edges(graph: dict[str, dict[str, int]]) -> dict[str, Edge]:
    edges = {}
    for component in components(graph):
        for source in component:
            for target, line in graph[source].items():
                if target in component:
                    edge = Edge(source, target, line)
                    edges[str(edge)] = edge
    return edges


def example_cycle(graph: dict[str, dict[str, int]], edge: Edge) -> list[str]:
    """The shortest way back from the edge's target to its source: the cycle a person has to break."""
    previous: dict[str, str] = {}
    queue = deque([edge.target])
    while queue:
        node = queue.popleft()
        if node == edge.source:
            path = [node]
            while path[-1] != edge.target:
                path.append(previous[path[-1]])
            return [edge.source, *reversed(path)]
        for target in sorted(graph[node]):
            if target not in previous and target != edge.target:
                previous[target] = node
                queue.append(target)
    return [edge.source, edge.target]


def layer_of(module: str) -> int | None:
    """Index into LAYERS (0 is the top) of the module's layer; None when no layer claims it."""
    best: tuple[int, int] | None = None  # (length of the matching name, layer)
    for index, names in enumerate(LAYERS):
        for name in names:
            matches = module == name or (name != PACKAGE and module.startswith(name + "."))
            if matches and (best is None or len(name) > best[0]):
                best = (len(name), index)
    return None if best is None else best[1]


def layer_name(index: int) -> str:
    return ", ".join(name.removeprefix(f"{PACKAGE}.") for name in LAYERS[index])


def upward_imports(graph: dict[str, dict[str, int]]) -> dict[str, Edge]:
    """Every import of a module in a higher layer than the importer's, by `a -> b`."""
    found = {}
    for source, targets in graph.items():
        source_layer = layer_of(source)
        for target, line in targets.items():
            target_layer = layer_of(target)
            if source_layer is not None and target_layer is not None and target_layer < source_layer:
                edge = Edge(source, target, line)
                found[str(edge)] = edge
    return found


def read_baseline(path: Path) -> set[str]:
    if not path.exists():
        return set()
    return {line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")}


CYCLES_HEADER = ("# Import edges of fovea_ctl that lie on an import cycle (every import counted, function-level and\n"
                 "# TYPE_CHECKING ones too). This list may only shrink: .ci/check_imports.py fails on an edge missing\n"
                 "# here and on one listed here that no longer lies on a cycle (then run it with --update).\n")
LAYERS_HEADER = ("# Imports of fovea_ctl that go up a layer (LAYERS in .ci/check_imports.py; every import counted,\n"
                 "# function-level and TYPE_CHECKING ones too), left from before the layers were checked. This list\n"
                 "# may only shrink: .ci/check_imports.py fails on a violation missing here and on one listed here\n"
                 "# that went away (then run it with --update).\n")


def write_baseline(path: Path, edges: list[str], header: str = CYCLES_HEADER) -> None:
    path.write_text(header + "".join(f"{edge}\n" for edge in sorted(edges)))


def check_layers(root: Path, graph: dict[str, dict[str, int]], baseline_path: Path, update: bool) -> int:
    """The layering contract against its baseline; 0 when they match (after --update removed what went away)."""
    paths = module_names(root)
    unlayered = sorted(module for module in graph if layer_of(module) is None)
    for module in unlayered:
        print(f"{paths[module].relative_to(root)}: {module} belongs to no layer; declare it in LAYERS "
              "(.ci/check_imports.py)", file=sys.stderr)
    current = upward_imports(graph)
    baseline = read_baseline(baseline_path)
    new = sorted(set(current) - baseline)
    gone = sorted(baseline - set(current))
    for name in new:
        edge = current[name]
        source_layer, target_layer = layer_of(edge.source), layer_of(edge.target)
        assert source_layer is not None and target_layer is not None
        print(f"layer violation: {paths[edge.source].relative_to(root)}:{edge.line} imports {edge.target}: "
              f"{layer_name(source_layer)} may not import {layer_name(target_layer)}, a layer above it",
              file=sys.stderr)
    if new or unlayered:
        if new:
            print(f"check_imports: {len(new)} import(s) go up a layer; move the shared piece down (or the caller up) "
                  "rather than adding to the baseline", file=sys.stderr)
        return 1
    if gone and update:
        write_baseline(baseline_path, sorted(baseline & set(current)), LAYERS_HEADER)
        print(f"check_imports: {len(gone)} layer violation(s) gone, removed from {baseline_path.name}")
        return 0
    if gone:
        for name in gone:
            print(f"no longer a layer violation: {name}", file=sys.stderr)
        print(f"check_imports: {len(gone)} baseline layer violation(s) went away; remove them "
              f"(python3 .ci/check_imports.py --update) so they cannot come back unnoticed", file=sys.stderr)
        return 1
    print(f"check_imports: {len(current)} import(s) up a layer, as the baseline; no new ones")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=REPO, help="the checkout whose fovea_ctl is checked")
    parser.add_argument("--baseline", type=Path, default=BASELINE)
    parser.add_argument("--layer-baseline", type=Path, default=LAYER_BASELINE)
    parser.add_argument("--update", action="store_true",
                        help="remove edges that are no longer on a cycle, and layer violations that went away")
    args = parser.parse_args(argv)

    graph = import_graph(args.root)
    layers_failed = check_layers(args.root, graph, args.layer_baseline, args.update)
    return max(check_cycles(args, graph), layers_failed)


def check_cycles(args: argparse.Namespace, graph: dict[str, dict[str, int]]) -> int:
    current = cyclic_edges(graph)
    baseline = read_baseline(args.baseline)
    new = sorted(set(current) - baseline)
    gone = sorted(baseline - set(current))
    paths = module_names(args.root)
    for name in new:
        edge = current[name]
        where = paths[edge.source].relative_to(args.root)
        print(f"new import cycle: {where}:{edge.line} imports {edge.target}, which imports it back: "
              f"{' -> '.join(example_cycle(graph, edge))}", file=sys.stderr)
    if new:
        print(f"check_imports: {len(new)} import edge(s) now lie on a cycle; break the cycle (move the shared piece "
              "down a layer) rather than adding to the baseline", file=sys.stderr)
        return 1
    if gone and args.update:
        write_baseline(args.baseline, sorted(baseline & set(current)))
        print(f"check_imports: {len(gone)} edge(s) no longer on a cycle removed from {args.baseline.name}")
        return 0
    if gone:
        for name in gone:
            print(f"no longer on a cycle: {name}", file=sys.stderr)
        print(f"check_imports: {len(gone)} baseline edge(s) are no longer on a cycle; remove them "
              f"(python3 .ci/check_imports.py --update) so they cannot come back unnoticed", file=sys.stderr)
        return 1
    cycles = components(graph)
    print(f"check_imports: {len(current)} import edge(s) on {len(cycles)} cycle(s) "
          f"({sum(len(c) for c in cycles)} modules), as the baseline; no new ones")
    return 0


if __name__ == "__main__":
    sys.exit(main())
