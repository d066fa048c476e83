"""Draw docs/architecture.png: the rooms (packages) of diffgrasp and the arrows (imports) between them.

The module graph is the import-graph test's own AST walk (src/diffgrasp/tests/test_import_graph.py: every import of
our three packages, function-local ones included, ``TYPE_CHECKING`` ones left out), folded into rooms. Rooms are
stacked by layer: a room sits above every room it imports, so every arrow points down. Only the arrows that are not
implied by others are drawn (the transitive reduction); the script fails if the rooms import each other in a
circle. Usage: ``.venv/bin/python scripts/architecture_figure.py [--out docs/architecture.png] [--print]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: a file, no window
import matplotlib.pyplot as plt  # noqa: E402
import networkx as nx  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src" / "diffgrasp" / "tests"))
from test_import_graph import GRAPH  # noqa: E402  (the walk lives with the test that checks the same graph)

# module-name prefix → room, longest prefix wins; modules of diffgrasp matching none are the base room
ROOMS = {
    "diffgrasp.grasps": "grasps", "diffgrasp.grasp_phases": "grasps", "diffgrasp.geometry": "geometry",
    "diffgrasp.hand": "hand", "diffgrasp.losses": "losses",
    "diffgrasp.network": "network", "diffgrasp.planning": "planning", "diffgrasp.perception": "perception",
    "diffgrasp.execution": "execution", "diffgrasp.sim.physics_test": "sim.physics_test",
    "diffgrasp.sim.robot_scene": "sim.robot_scene", "diffgrasp.sim.physics_rank": "sim.physics_rank",
    "diffgrasp.sim": "sim",
    "diffgrasp.demo": "demo", "diffgrasp.cli": "cli", "diffgrasp_training": "diffgrasp_training",
    "diffgrasp_ros": "diffgrasp_ros",
}
BASE = "base (config, io, loading, errors)"
COLOURS = {"diffgrasp_ros": "#f4cccc", "diffgrasp_training": "#fce5cd", "cli": "#d9ead3", "demo": "#d9ead3"}


def room_of(module: str) -> str:
    matches = [prefix for prefix in ROOMS if module == prefix or module.startswith(prefix + ".")]
    return ROOMS[max(matches, key=len)] if matches else BASE


def room_graph() -> nx.DiGraph:
    """Rooms and their runtime imports (an edge a → b: something in room a imports something in room b)."""
    rooms = nx.DiGraph()
    rooms.add_nodes_from(room_of(m) for m in GRAPH)
    for a, b, data in GRAPH.edges(data=True):
        ra, rb = room_of(a), room_of(b)
        if ra != rb and not data["typing_only"]:
            rooms.add_edge(ra, rb)
    return rooms


def draw(rooms: nx.DiGraph, out: Path) -> None:
    reduced = nx.transitive_reduction(rooms)
    layers = list(reversed(list(nx.topological_generations(rooms.reverse()))))  # importers on top
    pos = {}
    for y, layer in enumerate(reversed(layers)):
        for x, name in enumerate(sorted(layer)):
            pos[name] = (x - (len(layer) - 1) / 2, y)
    fig, ax = plt.subplots(figsize=(13, 1.3 * len(layers) + 1))
    for a, b in reduced.edges:
        ax.annotate("", xy=pos[b], xytext=pos[a],
                    arrowprops={"arrowstyle": "-|>", "color": "#555555", "lw": 1.0, "shrinkA": 16, "shrinkB": 16,
                                "connectionstyle": "arc3,rad=0.05"})
    for name, (x, y) in pos.items():
        ax.text(x, y, name, ha="center", va="center", fontsize=10, zorder=3,
                bbox={"boxstyle": "round,pad=0.5", "fc": COLOURS.get(name, "#cfe2f3"), "ec": "#333333"})
    ax.set_xlim(min(x for x, _ in pos.values()) - 1, max(x for x, _ in pos.values()) + 1)
    ax.set_ylim(-0.6, len(layers) - 0.4)
    ax.axis("off")
    ax.set_title("diffgrasp: rooms (packages) and imports — every arrow points down; implied arrows omitted",
                 fontsize=11)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "architecture.png")
    parser.add_argument("--print", action="store_true", help="also print each room's direct imports")
    args = parser.parse_args()
    rooms = room_graph()
    if not nx.is_directed_acyclic_graph(rooms):
        print(f"rooms import each other in a circle: {nx.find_cycle(rooms)}", file=sys.stderr)
        return 1
    if args.print:
        for name in sorted(rooms):
            print(f"{name:24s} -> {', '.join(sorted(rooms.successors(name))) or '-'}")
    draw(rooms, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
