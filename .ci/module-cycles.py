#!/usr/bin/env python3
"""Fails when a crate's top-level modules import each other in a cycle.

The graph has an edge A -> B for every `crate::B` path in code under src/A (comments and
`#[cfg(test)]` modules left out, doc links therefore too); a strongly connected component of
more than one module is a cycle. Run from the workspace root: .ci/module-cycles.py CRATE...
"""
import collections
import os
import re
import sys


def graph(crate):
    root = os.path.join(crate, "src")
    edges = collections.defaultdict(set)
    for folder, _, files in os.walk(root):
        for name in files:
            if not name.endswith(".rs"):
                continue
            path = os.path.join(folder, name)
            top = os.path.relpath(path, root).split(os.sep)[0].removesuffix(".rs")
            if top in ("lib", "main"):
                continue
            source = open(path, encoding="utf-8").read().split("#[cfg(test)]")[0]
            code = "\n".join(line.split("//")[0] for line in source.splitlines())
            for used in re.findall(r"crate::(\w+)", code):
                if used != top:
                    edges[top].add(used)
    return edges


def cycles(edges):
    """Tarjan's strongly connected components, keeping those of two or more modules."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(module):
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for used in edges.get(module, ()):
            if used not in index:
                visit(used)
                low[module] = min(low[module], low[used])
            elif used in on_stack:
                low[module] = min(low[module], index[used])
        if low[module] == index[module]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in list(edges):
        if module not in index:
            visit(module)
    return found


failed = False
for crate in sys.argv[1:]:
    edges = graph(crate)
    found = cycles(edges)
    print(f"{crate}: {len(edges)} modules that import, {sum(map(len, edges.values()))} edges, cycles: {found or 'none'}")
    failed |= bool(found)
sys.exit(1 if failed else 0)
