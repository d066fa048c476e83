"""The import graph of our own packages (issue 22): one-way, the core free of ROS and training, planning → sim only
shrinking.

A static AST walk over the sources (nothing is imported): every ``import`` and ``from ... import`` of ``diffgrasp``,
``diffgrasp_training`` and ``diffgrasp_ros``, at module level and inside functions alike (a function-local import
still runs, it only runs later), relative imports resolved against the importing module. Imports under
``if TYPE_CHECKING:`` never run: they are edges for the layering tests but not for the cycle test.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import networkx as nx

REPO = Path(__file__).resolve().parents[3]
PACKAGE_ROOTS = {  # top-level package → the folder that holds it
    "diffgrasp": REPO / "src" / "diffgrasp",
    "diffgrasp_training": REPO / "src" / "diffgrasp_training",
    "diffgrasp_ros": REPO / "src" / "diffgrasp_ros",
}
OWN = frozenset(PACKAGE_ROOTS)
# What the ROS-free core must never import: rclpy and the ROS client/launch stack, message packages, our ROS and
# training packages.
ROS_TOP_LEVEL = frozenset({"rclpy", "rosidl_runtime_py", "rosidl_parser", "tf2_ros", "tf2_py", "launch", "launch_ros",
                           "launch_testing", "builtin_interfaces", "ament_index_python", "diffgrasp_interfaces",
                           "moveit", "moveit_configs_utils"})
ROS_SUFFIXES = ("_msgs", "_srvs", "_interfaces")
CORE_FORBIDDEN_OWN = frozenset({"diffgrasp_ros", "diffgrasp_training"})



def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    """Module name → file, for every module of our three packages."""
    modules = {}
    for top, root in PACKAGE_ROOTS.items():
        for path in sorted((root / top).rglob("*.py")):
            modules[_module_name(path, root)] = path
    return modules


def _type_checking_only(tree: ast.Module) -> set[int]:
    """ids of the import nodes inside ``if TYPE_CHECKING:`` bodies (never executed)."""
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            ids.update(id(inner) for stmt in node.body for inner in ast.walk(stmt))
    return ids


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[tuple[str, int, bool]]:
    """(imported module, line, type-checking only) for each import in the file, of any package; a
    ``from pkg import name`` names the submodule ``pkg.name`` when that is one of ours, else ``pkg``."""
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(), filename=str(path))
    typing_only = _type_checking_only(tree)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update((alias.name, node.lineno, id(node) in typing_only) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add((sub if sub in modules else target, node.lineno, id(node) in typing_only))
    return found


def _graph() -> tuple[nx.DiGraph, dict[str, set[tuple[str, int, bool]]]]:
    """The graph of imports between our own modules, and every import (any package) per module."""
    modules = _sources()
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    every = {}
    for name, path in modules.items():
        every[name] = _imports(name, path, modules)
        for target, line, typing_only in sorted(every[name]):
            if target.split(".")[0] in OWN:
                # An import of a name that is not a module of ours (a typo would fail elsewhere) still counts for
                # its nearest enclosing module.
                while target not in modules and "." in target:
                    target = target.rsplit(".", 1)[0]
                if target == name:
                    continue
                if not graph.has_edge(name, target) or not typing_only:  # a runtime import wins
                    graph.add_edge(name, target, line=line, typing_only=typing_only)
    return graph, every


GRAPH, IMPORTS = _graph()


def test_walk_sees_our_modules_and_their_imports():
    """Guards the walk itself: the three packages are found and known edges (module-level and function-local) are
    there, so the tests below cannot pass on an empty graph."""
    assert {m.split(".")[0] for m in GRAPH} == OWN
    assert len(GRAPH) > 100 and GRAPH.number_of_edges() > 300
    assert GRAPH.has_edge("diffgrasp.sim.physics_test.hand_scene",
                          "diffgrasp.sim.physics_test.evaluate_config")  # module level
    assert GRAPH.has_edge("diffgrasp_ros.sensor_conversions", "diffgrasp_ros.mesh_conversions")


def test_no_import_cycles():
    """No cycle among our modules, counting function-local imports (they only hide a cycle, they do not break it).
    Break one by moving the shared piece down a layer."""
    runtime = nx.subgraph_view(GRAPH, filter_edge=lambda a, b: not GRAPH.edges[a, b]["typing_only"])
    try:
        cycle = nx.find_cycle(runtime)
    except nx.NetworkXNoCycle:
        return
    hops = " -> ".join(f"{a} (line {GRAPH.edges[a, b]['line']})" for a, b in cycle)
    raise AssertionError(f"import cycle: {hops} -> {cycle[0][0]}")


def _is_ros(top: str) -> bool:
    return top in ROS_TOP_LEVEL or top.endswith(ROS_SUFFIXES)


def test_core_imports_no_ros_and_no_training():
    """The ROS-free core (``diffgrasp``) imports neither rclpy nor a ROS message package, nor diffgrasp_ros or
    diffgrasp_training (design notes; STYLE.md "The core never imports ROS")."""
    bad = sorted(f"{name}:{line} imports {target}" for name, imports in IMPORTS.items()
                 if name.split(".")[0] == "diffgrasp" for target, line, _ in imports
                 if _is_ros(target.split(".")[0]) or target.split(".")[0] in CORE_FORBIDDEN_OWN)
    assert not bad, "the core imports ROS or training:\n" + "\n".join(bad)


def test_planning_imports_nothing_from_sim():
    """``diffgrasp.planning`` never imports ``diffgrasp.sim`` (issue 22): the physics ranking reaches the planner as
    an injected GraspScorer (diffgrasp.planning.scoring) that sim/ implements."""
    edges = sorted((a, b) for a, b in GRAPH.edges if (a == "diffgrasp.planning" or a.startswith("diffgrasp.planning."))
                   and (b == "diffgrasp.sim" or b.startswith("diffgrasp.sim.")))
    assert not edges, ("planning -> sim imports (inject the physics through planning.scoring instead): "
                       + ", ".join(f"{a} -> {b} (line {GRAPH.edges[a, b]['line']})" for a, b in edges))


def test_importing_the_planner_loads_no_simulation_module():
    """At run time too: ``import diffgrasp.planning`` (and building a PlannerConfig) leaves diffgrasp.sim unloaded;
    the default scorer is imported only when a plan with the physics ranking starts."""
    code = ("import sys, diffgrasp.planning as p; p.PlannerConfig(); "
            "print(sorted(m for m in sys.modules if m.startswith('diffgrasp.sim')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
