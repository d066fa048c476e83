"""Static checks of the rclpy node files: structure, parameters, action-server policies, goal/request fields against
the real interface definitions, and core imports against the core package. (The nodes also run for real over DDS:
test_ros_nodes.py, test_ros_sim.py.)"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "diffgrasp_ros"
NODE_FILES = sorted(PACKAGE.glob("*_node.py"))
# action/service served by each node file → interface type prefix (goal/request fields checked against it)
SERVED = {"inference_node.py": "action/PredictGrasps_Goal", "refinement_node.py": "action/RefineGrasps_Goal",
          "execution_node.py": "action/ExecuteGrasp_Goal", "orchestrator_node.py": "action/GraspObject_Goal",
          "capture_node.py": "srv/CaptureScene_Request", "fusion_node.py": "srv/FuseScene_Request",
          "sim_camera_node.py": None}  # the simulated cameras only publish


def tree_of(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def test_one_node_per_file_with_main():
    assert {p.name for p in NODE_FILES} == set(SERVED)
    for path in NODE_FILES:
        tree = tree_of(path)
        classes = [n for n in tree.body if isinstance(n, ast.ClassDef) and any(
            getattr(b, "id", None) in ("Node", "StageNode") for b in n.bases)]
        assert len(classes) == 1, f"{path.name}: expected one Node subclass"
        main = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main")
        assert [a.arg for a in main.args.args] == ["args"] and isinstance(main.args.defaults[0], ast.Constant)
        source = ast.unparse(main)
        assert f"spin_node({classes[0].name}, num_threads=" in source and "args=args" in source, \
            f"{path.name}: main() must spin its node through diffgrasp_ros.spin.spin_node"
    spin = ast.unparse(next(n for n in tree_of(PACKAGE / "spin.py").body
                            if isinstance(n, ast.FunctionDef) and n.name == "spin_node"))
    for needed in ("rclpy.init(args=args)", "rclpy.shutdown()", "KeyboardInterrupt", "ExternalShutdownException",
                   "MultiThreadedExecutor", "destroy_node()"):
        assert needed in spin, f"spin.py: spin_node() lacks {needed}"


def test_parameters_have_descriptions_and_typed_defaults():
    from diffgrasp_ros.lifecycle import COMMON_PARAMS, Param

    for path in NODE_FILES:
        module = importlib.import_module(f"diffgrasp_ros.{path.stem}")
        node_class = next(v for v in vars(module).values()
                          if isinstance(v, type) and v.__module__ == module.__name__ and hasattr(v, "get_name"))
        params = getattr(node_class, "PARAMETERS", None) or module.PARAMETERS
        if "StageNode" in [b.__name__ for b in node_class.__mro__]:
            params = {**COMMON_PARAMS, **params}
        assert params and all(re.fullmatch(r"[a-z][a-z0-9_]*", k) for k in params), path.name
        for name, param in params.items():
            assert isinstance(param, Param) and param.description, f"{path.name}: {name}: no description"
            assert param.default != [], f"{path.name}: {name}: empty list defaults have no type in rclpy"
            if isinstance(param.default, list):
                assert len({type(v) for v in param.default}) == 1, f"{path.name}: {name}: mixed list types"
        assert "declare_params(" in path.read_text() or "StageNode" in path.read_text(), path.name


def test_action_servers_accept_cancels_and_use_reentrant_groups():
    """The one ActionServer (the shared ExclusiveActionServer in lifecycle.py, which every action node uses) accepts
    cancels and serves goal and cancel requests while a goal runs; the busy/reject policy is exercised for real in
    test_ros_nodes.py and test_ros_action_skeleton.py."""
    calls = 0
    for path in sorted(PACKAGE.glob("*.py")):
        for call in re.findall(r"= ActionServer\((.*?)\)\n", path.read_text(), flags=re.S):
            calls += 1
            assert path.name == "lifecycle.py", f"{path.name}: an ActionServer of its own, not ExclusiveActionServer"
            assert "cancel_callback=" in call, f"{path.name}: ActionServer without cancel_callback"
            assert "goal_callback=" in call, f"{path.name}: ActionServer without goal_callback"
            assert "ReentrantCallbackGroup()" in call, path.name
    assert calls == 1
    for path in NODE_FILES:
        if SERVED[path.name] and SERVED[path.name].startswith("action/"):
            assert "ExclusiveActionServer(" in path.read_text(), path.name
    cancel = next(n for n in ast.walk(tree_of(PACKAGE / "lifecycle.py"))
                  if isinstance(n, ast.FunctionDef) and n.name == "_cancel")
    assert "CancelResponse.ACCEPT" in ast.unparse(cancel)


def _attribute_uses(tree: ast.AST, root_names: set[str]) -> set[str]:
    """Attributes read on ``goal_handle.request`` / ``goal`` / ``request`` objects."""
    used = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            base = node.value
            if isinstance(base, ast.Name) and base.id in root_names:
                used.add(node.attr)
            if isinstance(base, ast.Attribute) and base.attr == "request" and \
                    getattr(base.value, "id", "") == "goal_handle":
                used.add(node.attr)
    return used


@pytest.mark.parametrize("filename", sorted(k for k, v in SERVED.items() if v))
def test_goal_and_request_fields_exist_in_the_definitions(filename, typestore):
    fields = {f for f, _ in typestore.fielddefs[f"diffgrasp_interfaces/{SERVED[filename]}"][1]}
    used = _attribute_uses(tree_of(PACKAGE / filename), {"goal", "request"}) - {"request"}
    assert used <= fields, f"{filename}: uses {sorted(used - fields)} not in {SERVED[filename]}"


def test_result_constants_used_by_nodes_exist(typestore):
    """``codes.X`` / ``<Action>.Result.X`` / ``type(response).X`` constants used in the nodes are defined."""
    for path in NODE_FILES:
        source = path.read_text()
        for action, const in re.findall(r"(\w+)\.Result\.([A-Z_]+)", source):
            consts = {c for c, _, _ in typestore.fielddefs[f"diffgrasp_interfaces/action/{action}_Result"][0]}
            assert const in consts, f"{path.name}: {action}.Result.{const}"
        if SERVED[path.name] is None:
            continue
        served = SERVED[path.name].rsplit("_", 1)[0]
        result = f"diffgrasp_interfaces/{served}_{'Result' if served.startswith('action') else 'Response'}"
        consts = {c for c, _, _ in typestore.fielddefs[result][0]}
        for const in re.findall(r"\bcodes\.([A-Z_]+)", source):
            assert const in consts, f"{path.name}: codes.{const} not in {result}"


def test_core_imports_of_the_nodes_resolve():
    """Every ``from diffgrasp... import name`` inside the (lazily importing) nodes names something that exists."""
    files = [*NODE_FILES, PACKAGE / "moveit_backend.py", PACKAGE / "client.py"]
    for path in files:
        for node in ast.walk(tree_of(path)):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in ("diffgrasp",
                                                                                                  "diffgrasp_ros"):
                source = PACKAGE / (node.module.split(".", 1)[1].replace(".", "/") + ".py") \
                    if node.module.startswith("diffgrasp_ros.") else None
                if source is not None and "import rclpy" in source.read_text():  # cannot import without rclpy
                    defined = {n.name for n in tree_of(source).body if isinstance(n, ast.FunctionDef | ast.ClassDef)}
                    missing = [a.name for a in node.names if a.name not in defined]
                    assert not missing, f"{path.name}: {node.module} has no {missing}"
                    continue
                module = importlib.import_module(node.module)
                for alias in node.names:
                    assert hasattr(module, alias.name), f"{path.name}: {node.module} has no {alias.name}"
