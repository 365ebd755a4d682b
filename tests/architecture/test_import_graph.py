"""The house holds together one way: no import cycle among product modules, and models import no service.

The graph is grimp's (the one import-linter checks its contracts on): every import statement of the
product packages, those inside functions included, TYPE_CHECKING-only ones excluded.
"""

from __future__ import annotations

import functools

import grimp

PRODUCT_PACKAGES = ("engines", "outreach")


@functools.cache
def import_graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PRODUCT_PACKAGES, exclude_type_checking_imports=True, cache_dir=None)


def product_modules(graph: grimp.ImportGraph) -> set[str]:
    return {module for module in graph.modules if not module.startswith("outreach.migrations")}


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm, iterative)."""
    modules = sorted(product_modules(graph))
    edges = {m: sorted(graph.find_modules_directly_imported_by(m) & set(modules)) for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = 0
    for root in modules:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, next_edge = work.pop()
            if next_edge == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            recurse = False
            for i in range(next_edge, len(edges[node])):
                target = edges[node][i]
                if target not in index:
                    work.append((node, i + 1))
                    work.append((target, 0))
                    recurse = True
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            if recurse:
                continue
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    cycles.append(sorted(group))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return cycles


def test_no_import_cycle_among_product_modules():
    assert import_cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    graph = grimp.ImportGraph()
    for module in ("engines.a", "engines.b", "engines.c", "engines.d"):
        graph.add_module(module)
    graph.add_import(importer="engines.a", imported="engines.b")
    graph.add_import(importer="engines.b", imported="engines.c")
    graph.add_import(importer="engines.c", imported="engines.a")
    graph.add_import(importer="engines.c", imported="engines.d")
    assert import_cycles(graph) == [["engines.a", "engines.b", "engines.c"]]


def test_in_function_imports_are_in_the_graph():
    # engines.apps imports engines.tasks only inside ready(): a graph without it would miss such cycles.
    assert "engines.tasks" in import_graph().find_modules_directly_imported_by("engines.apps")


def test_no_model_imports_a_service():
    graph = import_graph()
    offenders = {
        (model, imported)
        for model in graph.find_children("outreach.models") | {"outreach.models"}
        for imported in graph.find_modules_directly_imported_by(model)
        if imported.startswith("engines.services")
    }
    assert offenders == set()
