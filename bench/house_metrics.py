"""The shape of engine/: modules per folder, the longest modules, import levels and circles.

    .venv/bin/python bench/house_metrics.py            # this checkout
    .venv/bin/python bench/house_metrics.py --rev REV  # an earlier commit (via git worktree)

Import levels: the longest chain of engine-internal imports (a module that imports nothing of
the engine is level 1). Circles: groups of modules that import one another, directly or not.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import grimp

REPO = Path(__file__).resolve().parents[1]


def measure(root: Path) -> None:
    sys.path.insert(0, str(root))
    graph = grimp.build_graph("engine", cache_dir=None)
    modules = sorted(m for m in graph.modules if (root / (m.replace(".", "/") + ".py")).exists())
    folders = Counter(m.rsplit(".", 1)[0] for m in modules)
    lines = {
        m: len((root / (m.replace(".", "/") + ".py")).read_text().splitlines()) for m in modules
    }
    deps = {
        m: {d for d in graph.find_modules_directly_imported_by(m) if d in lines} for m in modules
    }
    # strongly connected components (Tarjan), then the longest chain over the condensed graph
    index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in deps[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            comps.append(comp)

    sys.setrecursionlimit(10_000)
    for m in modules:
        if m not in index:
            visit(m)
    comp_of = {m: i for i, c in enumerate(comps) for m in c}
    level: dict[int, int] = {}
    for i, comp in enumerate(comps):  # Tarjan emits components in reverse topological order
        below = {comp_of[d] for m in comp for d in deps[m]} - {i}
        level[i] = 1 + max((level[j] for j in below), default=0)
    print(f"modules: {len(modules)}")
    print("modules per folder: " + ", ".join(f"{f}: {n}" for f, n in sorted(folders.items())))
    top = sorted(lines.items(), key=lambda kv: -kv[1])[:3]
    print("longest modules: " + ", ".join(f"{m} {n}" for m, n in top))
    print(f"pipeline.py: {lines.get('engine.pipeline', 0)} lines")
    print(f"import levels: {max(level.values())}")
    circles = [sorted(c) for c in comps if len(c) > 1]
    print(f"import circles: {len(circles)}" + "".join(f"\n  {' <-> '.join(c)}" for c in circles))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", help="measure this commit instead of the working tree")
    args = parser.parse_args()
    if args.rev is None:
        measure(REPO)
        return
    with tempfile.TemporaryDirectory(prefix="bromsync-house-") as tmp:
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", tmp, args.rev],
                       check=True, capture_output=True)  # fmt: skip
        try:
            measure(Path(tmp))
        finally:
            subprocess.run(
                ["git", "-C", str(REPO), "worktree", "remove", "--force", tmp], check=True
            )


if __name__ == "__main__":
    main()
