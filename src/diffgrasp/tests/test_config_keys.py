"""Every YAML file of the repository has a consumer, and every key in it is read (issue 22).

``FILES`` says, for each file under ``config/`` and each packaged YAML under ``diffgrasp/data/``, what reads it:

- ``Dataclass``: one of our frozen dataclasses (``load_config``, or the rig's ``load_rig``). (a) The file loads: the
  loaders refuse unknown keys, so every key is a field. (b) Every field of every dataclass reached from the file is
  read somewhere in the packages' code (``src/*/<package>/``, tests excluded): an attribute read ``x.name`` outside a
  ``__post_init__`` (validation is not use) or a ``getattr(x, "name")``; the few exceptions are in ``UNREAD`` with the
  reason. Each root dataclass is also used by name outside its own module (``DEAD_CLASSES`` lists known exceptions).
  The check is by name: a field whose name some other object's attribute shares passes; a key that nothing reads
  under any owner fails, naming the file and the dotted key.
- ``RosParams``: ``node: ros__parameters: {...}`` files of our rclpy nodes. (c) Each key is declared by the node of
  that name (``PARAMETERS`` dicts, ``COMMON_PARAMS`` of lifecycle ``StageNode``\\ s, ``declare_parameter("name")``;
  read from the ASTs, no rclpy needed) and read by it (``params["name"]``, ``.get("name")``,
  ``get_parameter("name")``). Types against the declared defaults: ``diffgrasp_bringup``'s
  test_parameter_yaml_sets_only_declared_parameters.
- ``DataFile``: generated data read by key by one of our modules: each key (top level and in list entries) is a
  string the reader subscripts or ``.get``\\ s, or a note for people listed with its reason.
- ``External``: read by ROS 2 / MoveIt / Gazebo tools, not by our code; their structure is tested in
  tests/description and diffgrasp_bringup.

(d) Every file under ``config/`` (except Markdown) and every YAML under ``data/`` has an entry, each entry's file
exists, and the files in its ``loaded_by`` (the code that loads it or passes its path on) name it. Entries that no code
loads say why (``unloaded``): a mirror of dataclass defaults or a record kept with an artefact.

Each checker returns messages; the ``*_reports_*`` tests plant a bogus key in a temporary copy and see it reported.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import importlib
import shutil
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
PACKAGES = tuple(REPO / "src" / name / name for name in ("diffgrasp", "diffgrasp_training", "diffgrasp_ros"))
NODES = REPO / "src" / "diffgrasp_ros" / "diffgrasp_ros"
DATA = "src/diffgrasp/diffgrasp/data"
ROS_IMPLICIT = {"use_sim_time"}  # declared by rclpy itself


@dataclasses.dataclass(frozen=True)
class Dataclass:
    """Read by our dataclass ``cls`` ('package:Class', through the package's facade) with ``loader``
    ('package:function': load_config(cls, path), any other loader(path)). ``loaded_by``: non-test files that load the
    file or pass its path to a loader; ``unloaded``: why none does (then ``loaded_by`` is empty)."""

    cls: str
    loaded_by: tuple[str, ...] = ()
    loader: str = "diffgrasp.config:load_config"
    unloaded: str = ""


@dataclasses.dataclass(frozen=True)
class RosParams:
    """``<node>: ros__parameters: {...}`` for our rclpy nodes (named by ``super().__init__("<node>")``)."""

    loaded_by: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class DataFile:
    """Generated data read key by key by ``reader`` (a repo-relative module); ``notes``: keys for people, with why."""

    reader: str
    loaded_by: tuple[str, ...]
    notes: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class External:
    """Read by ``consumer`` (ROS 2, MoveIt, Gazebo), not by our code."""

    consumer: str
    loaded_by: tuple[str, ...]


RIG = dict(cls="diffgrasp.perception:RigConfig", loader="diffgrasp.perception:load_rig")
MOVEIT = "MoveIt 2 (MoveItConfigsBuilder / the planning pipelines loop of the launch file)"
HAND_ASSETS = "src/diffgrasp/diffgrasp/hand/assets.py"
GENERATED_NOTE = "frame convention written by scripts/generate_hand_assets.py for people; the readers assume it"

FILES: dict[str, Dataclass | RosParams | DataFile | External] = {
    "config/cameras.yaml": Dataclass(**RIG, loaded_by=("launch/cameras.launch.py", "launch/robot.launch.py",
                                                       "src/diffgrasp_ros/diffgrasp_ros/capture_node.py")),
    "config/cameras_sim.yaml": Dataclass(**RIG, loaded_by=("src/diffgrasp/diffgrasp/cli/capture.py",
                                                           "src/diffgrasp/diffgrasp/demo/config.py",
                                                           "src/diffgrasp_ros/diffgrasp_ros/sim_camera_node.py")),
    "config/demo.yaml": Dataclass("diffgrasp.demo:DemoConfig", ("src/diffgrasp/diffgrasp/cli/demo.py",)),
    "config/depth_noise.yaml": Dataclass("diffgrasp.perception:DepthNoiseConfig",
                                         ("src/diffgrasp/diffgrasp/cli/capture.py",)),
    "config/evaluate.yaml": Dataclass("diffgrasp.sim:EvaluateConfig",
                                      ("src/diffgrasp/diffgrasp/cli/evaluate.py",)),
    "config/execution.yaml": Dataclass("diffgrasp.execution:ExecutionConfig",
                                       ("src/diffgrasp_ros/diffgrasp_ros/execution_node.py",
                                        "src/diffgrasp_ros/diffgrasp_ros/refinement_node.py")),
    "config/fusion.yaml": Dataclass("diffgrasp.perception:FusionConfig",
                                    ("src/diffgrasp/diffgrasp/cli/fuse.py", "launch/pipeline.launch.py",
                                     "src/diffgrasp_ros/diffgrasp_ros/fusion_node.py")),
    "config/loss.yaml": Dataclass("diffgrasp.losses:LossConfig",
                                  ("src/diffgrasp_training/diffgrasp_training/train_config.py",)),
    "config/network.yaml": Dataclass("diffgrasp.network:NetworkConfig",
                                     ("src/diffgrasp_training/diffgrasp_training/cli.py",)),
    "config/planner.yaml": Dataclass("diffgrasp.planning:PlannerConfig",
                                     ("src/diffgrasp/diffgrasp/cli/plan.py", "launch/pipeline.launch.py",
                                      "src/diffgrasp_ros/diffgrasp_ros/refinement_node.py")),
    "config/training.yaml": Dataclass("diffgrasp_training.train_config:TrainConfig",
                                      ("src/diffgrasp_training/diffgrasp_training/cli.py",)),
    "config/ros/pipeline.yaml": RosParams(("launch/pipeline.launch.py",)),
    "config/ros/sim_overrides.yaml": RosParams(("launch/sim.launch.py",)),
    "config/ros/gz_bridge.yaml": External("ros_gz_bridge parameter_bridge (config_file)", ("launch/sim.launch.py",)),
    "config/ros/gz_world.sdf": External("Gazebo (gz sim world)", ("launch/sim.launch.py",)),
    "config/ros2_controllers.yaml": External("ros2_control controller_manager (mock hardware or gz_ros2_control) "
                                             "and the controller spawners",
                                             ("launch/robot.launch.py", "launch/sim.launch.py",
                                              "launch/pipeline.launch.py", "urdf/robot_cell.urdf.xacro")),
    "config/moveit/ur10e_shadow.srdf": External(MOVEIT, ("launch/pipeline.launch.py", "scripts/generate_srdf.py")),
    "config/moveit/joint_limits.yaml": External(MOVEIT, ("launch/pipeline.launch.py",)),
    "config/moveit/kinematics.yaml": External(MOVEIT, ("launch/pipeline.launch.py",)),
    "config/moveit/moveit_controllers.yaml": External(MOVEIT, ("launch/pipeline.launch.py",)),
    "config/moveit/moveit_py.yaml": External(MOVEIT + " and moveit_py (MoveItPy)",
                                             ("launch/pipeline.launch.py",
                                              "src/diffgrasp_ros/diffgrasp_ros/moveit_backend.py")),
    "config/moveit/ompl_planning.yaml": External(MOVEIT, ("launch/pipeline.launch.py",)),
    "config/moveit/pilz_cartesian_limits.yaml": External(MOVEIT, ("launch/pipeline.launch.py",)),
    "config/moveit/pilz_industrial_motion_planner_planning.yaml": External(MOVEIT, ("launch/pipeline.launch.py",)),
    f"{DATA}/hand/contact_candidates.yaml": DataFile(HAND_ASSETS, (HAND_ASSETS, "scripts/generate_hand_assets.py"),
                                                     {"frame": GENERATED_NOTE}),
    f"{DATA}/hand/collision_capsules.yaml": DataFile(
        HAND_ASSETS, (HAND_ASSETS, "scripts/generate_hand_assets.py"),
        {"frame": GENERATED_NOTE, "source_geom": "provenance: the MJCF geom each capsule was fitted to"}),
    f"{DATA}/network/network.yaml": Dataclass(
        "diffgrasp.network:NetworkConfig",
        unloaded="record of the packaged grasp_net.pt's network (data/network/README.md); the checkpoint carries "
                 "its own copy, which load_checkpoint uses"),
    f"{DATA}/network/training.yaml": Dataclass(
        "diffgrasp_training.train_config:TrainConfig",
        unloaded="record of how the packaged grasp_net.pt was trained (data/network/README.md)"),
}

UNREAD = {
    ("CameraConfig", "calibration"): "a note for people (where the extrinsics came from): written by "
                                     "perception/handeye.py, kept by rig_to_dict; never a setting",
}
"""(class, field) read by no code, on purpose."""

DEAD_CLASSES: dict[str, str] = {}
"""Root dataclasses of FILES that no package code uses by name (outside their module and re-exports); known."""


# ------------------------------------------------------------------------------------------------------ checkers
def _py_files() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in pkg.rglob("*.py"))


@functools.cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def attribute_reads(paths: tuple[Path, ...]) -> set[str]:
    """Attribute names read in ``paths``: ``x.name`` loads outside ``__post_init__`` and ``getattr(x, "name")``."""
    names: set[str] = set()
    for path in paths:
        tree = _tree(path)
        validation = {id(n) for f in ast.walk(tree) if isinstance(f, ast.FunctionDef) and f.name == "__post_init__"
                      for n in ast.walk(f)}
        for node in ast.walk(tree):
            if id(node) in validation:
                continue
            if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
                names.add(node.attr)
            elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "getattr" and len(node.args) >= 2 \
                    and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str):
                names.add(node.args[1].value)
    return names


@functools.cache
def package_reads() -> frozenset[str]:
    return frozenset(attribute_reads(tuple(_py_files())))


def _nested_dataclasses(kind: Any) -> list[type]:
    """Dataclasses inside a field type (itself, Optional[...], tuple[X, ...], dict[str, X], ...)."""
    found = [kind] if dataclasses.is_dataclass(kind) and isinstance(kind, type) else []
    return found + [c for arg in typing.get_args(kind) for c in _nested_dataclasses(arg)]


def config_fields(root: type) -> list[tuple[type, str, str]]:
    """(owner class, field name, dotted key from the file's top level) for every field reached from ``root``."""
    out: list[tuple[type, str, str]] = []

    def walk(cls: type, prefix: str, seen: frozenset[type]) -> None:
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            out.append((cls, f.name, prefix + f.name))
            sequence = typing.get_origin(hints[f.name]) in (tuple, list)
            for sub in _nested_dataclasses(hints[f.name]):
                if sub not in seen:
                    walk(sub, f"{prefix}{f.name}{'[]' if sequence else ''}.", seen | {sub})

    walk(root, "", frozenset({root}))
    return out


def unread_fields(name: str, root: type, reads: set[str] | frozenset[str],
                  allowed: dict[tuple[str, str], str] = UNREAD) -> list[str]:
    """A message per field reached from ``root`` whose name ``reads`` lacks (``allowed`` excepted); ``name`` is the
    file the fields come from."""
    return [f"{name}: {dotted}: {owner.__name__}.{field} is read nowhere in the packages' code"
            for owner, field, dotted in config_fields(root)
            if field not in reads and (owner.__name__, field) not in allowed]


def class_uses(paths: list[Path], class_name: str, defined_in: Path) -> list[Path]:
    """Files other than ``defined_in`` that use ``class_name`` as a name (imports and ``__all__`` strings aside)."""
    return [p for p in paths if p != defined_in and any(
        isinstance(n, ast.Name) and n.id == class_name for n in ast.walk(_tree(p)))]


def load_problems(name: str, entry: Dataclass, path: Path) -> list[str]:
    """[] when ``path`` loads with ``entry``'s loader, else the loader's one-line error."""
    from diffgrasp.errors import ConfigError

    try:
        cls, loader = _resolve(entry.cls), _resolve(entry.loader)
        loader(cls, path) if entry.loader.endswith(":load_config") else loader(path)
    except (ConfigError, ValueError, TypeError) as err:
        return [f"{name}: {err}"]
    return []


def _resolve(spec: str) -> Any:
    module, attr = spec.split(":")
    if module.startswith("diffgrasp_training"):
        pytest.importorskip("diffgrasp_training", reason="the training package is optional for the core's tests")
    return getattr(importlib.import_module(module), attr)


def _string_keys(tree: ast.AST) -> set[str]:
    """Strings a module reads as keys: ``x["key"]``, ``x.get("key")``, ``get_parameter("key")``, and the strings of
    a literal tuple or list looped over (``for k in ("a", "b"): x[k]``)."""
    keys = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            keys.add(node.slice.value)
        elif isinstance(node, ast.For | ast.comprehension) and isinstance(node.iter, ast.Tuple | ast.List):
            keys |= {e.value for e in node.iter.elts if isinstance(e, ast.Constant)}
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") in ("get", "get_parameter") \
                and node.args and isinstance(node.args[0], ast.Constant):
            keys.add(node.args[0].value)
    return {k for k in keys if isinstance(k, str)}


def unread_data_keys(name: str, path: Path, entry: DataFile) -> list[str]:
    """A message per key of ``path`` (top level, and of mappings in top-level lists) that ``entry.reader`` never
    reads as a key and ``entry.notes`` does not explain."""
    data = yaml.safe_load(path.read_text())
    read = _string_keys(ast.parse((REPO / entry.reader).read_text())) | set(entry.notes)
    keys = {(k, k) for k in data}
    keys |= {(f"{k}[].{sub}", sub) for k, v in data.items() if isinstance(v, list)
             for item in v if isinstance(item, dict) for sub in item}
    return [f"{name}: {dotted}: read nowhere in {entry.reader}" for dotted, key in sorted(keys) if key not in read]


@dataclasses.dataclass(frozen=True)
class NodeParams:
    file: str
    declared: frozenset[str]
    read: frozenset[str]


def _dict_keys(body: list[ast.stmt], name: str) -> set[str] | None:
    for node in body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == name for t in node.targets) \
                and isinstance(node.value, ast.Dict):
            return {k.value for k in node.value.keys if isinstance(k, ast.Constant)}
    return None


def declared_parameters(package: Path = NODES) -> dict[str, NodeParams]:
    """Node name → parameters its class declares and reads, from the ASTs of ``package``'s modules."""
    lifecycle = ast.parse((package / "lifecycle.py").read_text())
    common = _dict_keys(lifecycle.body, "COMMON_PARAMS") or set()
    nodes = {}
    for path in sorted(package.glob("*.py")):
        tree = ast.parse(path.read_text())
        module_params = _dict_keys(tree.body, "PARAMETERS") or set()
        for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
            names = [c.args[0].value for c in ast.walk(cls) if isinstance(c, ast.Call) and c.args
                     and getattr(c.func, "attr", "") == "__init__" and isinstance(c.args[0], ast.Constant)
                     and getattr(getattr(c.func, "value", None), "func", None) is not None
                     and getattr(c.func.value.func, "id", "") == "super"]
            if not names:
                continue
            stage = any(getattr(b, "id", "") == "StageNode" for b in cls.bases)
            declared = (_dict_keys(cls.body, "PARAMETERS") or module_params) | (common if stage else set())
            declared |= {c.args[0].value for c in ast.walk(cls) if isinstance(c, ast.Call) and c.args
                         and getattr(c.func, "attr", "") == "declare_parameter" and isinstance(c.args[0], ast.Constant)}
            read = _string_keys(tree) | (_string_keys(lifecycle) if stage else set())
            nodes[names[0]] = NodeParams(path.name, frozenset(declared), frozenset(read))
    return nodes


def ros_parameter_problems(name: str, path: Path, nodes: dict[str, NodeParams]) -> list[str]:
    """A message per section of ``path`` for no node of ours, and per key its node does not declare or never reads."""
    problems = []
    for node, section in (yaml.safe_load(path.read_text()) or {}).items():
        params = (section or {}).get("ros__parameters") if isinstance(section, dict) else None
        if node not in nodes:
            problems.append(f"{name}: {node}: no node of ours is named {node!r} (nodes: {', '.join(sorted(nodes))})")
            continue
        if not isinstance(params, dict):
            problems.append(f"{name}: {node}: expected a ros__parameters mapping")
            continue
        owner = nodes[node]
        for key in params:
            if key in ROS_IMPLICIT:
                continue
            if key not in owner.declared:
                problems.append(f"{name}: {node}.ros__parameters.{key}: not declared by node {node!r} ({owner.file})")
            elif key not in owner.read:
                problems.append(f"{name}: {node}.ros__parameters.{key}: declared but never read by {owner.file}")
    return problems


def repository_files(root: Path = REPO) -> set[str]:
    """Files that need an entry: everything under config/ but Markdown, and the packaged YAML."""
    config = {p for p in (root / "config").rglob("*") if p.is_file() and p.suffix != ".md"}
    packaged = set((root / DATA).rglob("*.yaml")) if (root / DATA).is_dir() else set()
    return {p.relative_to(root).as_posix() for p in config | packaged}


def table_problems(files: set[str], table: dict[str, Any], root: Path = REPO) -> list[str]:
    """Files without an entry, entries without a file, and ``loaded_by`` files that do not name their file."""
    problems = [f"{f}: no entry in FILES: say what reads it (or delete it)" for f in sorted(files - set(table))]
    problems += [f"{f}: in FILES but not in the repository" for f in sorted(set(table) - files)]
    for name, entry in table.items():
        for user in entry.loaded_by:
            source = root / user
            if not source.is_file() or Path(name).name not in source.read_text():
                problems.append(f"{name}: FILES says {user} loads it, but {user} does not name it")
        if isinstance(entry, Dataclass) and not entry.loaded_by and not entry.unloaded:
            problems.append(f"{name}: no code loads it and FILES gives no reason (unloaded=...)")
    return problems


# --------------------------------------------------------------------------------------------------------- tests
DATACLASS_FILES = sorted(k for k, v in FILES.items() if isinstance(v, Dataclass))


def test_every_file_has_an_entry_and_is_named_by_its_loaders():
    assert not table_problems(repository_files(), FILES)


@pytest.mark.parametrize("name", DATACLASS_FILES)
def test_dataclass_files_load(name):
    assert not load_problems(name, FILES[name], REPO / name)


@pytest.mark.parametrize("name", DATACLASS_FILES)
def test_every_field_of_a_dataclass_file_is_read(name):
    assert not unread_fields(name, _resolve(FILES[name].cls), package_reads())


def test_root_dataclasses_are_used_by_the_packages():
    dead = {}
    for spec in {FILES[name].cls for name in DATACLASS_FILES}:
        cls = _resolve(spec)
        defined_in = Path(importlib.import_module(cls.__module__).__file__)
        if not class_uses(_py_files(), cls.__name__, defined_in):
            dead[cls.__name__] = spec
    new, revived = sorted(set(dead) - set(DEAD_CLASSES)), sorted(set(DEAD_CLASSES) - set(dead))
    assert not new, f"used by no package code (use them, or add to DEAD_CLASSES with why): {new}"
    assert not revived, f"used now: drop them from DEAD_CLASSES: {revived}"


def test_unread_allowlist_is_current():
    """Each UNREAD entry names an existing field that really is read nowhere."""
    fields = {(owner.__name__, f) for name in DATACLASS_FILES for owner, f, _ in
              config_fields(_resolve(FILES[name].cls))}
    for owner, field in UNREAD:
        assert (owner, field) in fields, f"UNREAD: {owner}.{field} is not a field of any config file's dataclass"
        assert field not in package_reads(), f"UNREAD: {owner}.{field} is read now: drop it from UNREAD"


@pytest.mark.parametrize("name", sorted(k for k, v in FILES.items() if isinstance(v, RosParams)))
def test_ros_parameter_keys_are_declared_and_read_by_their_node(name):
    assert not ros_parameter_problems(name, REPO / name, declared_parameters())


@pytest.mark.parametrize("name", sorted(k for k, v in FILES.items() if isinstance(v, DataFile)))
def test_data_file_keys_are_read(name):
    assert not unread_data_keys(name, REPO / name, FILES[name])


# ----------------------------------------------------------------------------------- the checkers can fail
def _planted(tmp_path: Path, name: str, edit: Any) -> Path:
    copy = tmp_path / Path(name).name
    shutil.copyfile(REPO / name, copy)
    data = yaml.safe_load(copy.read_text())
    edit(data)
    copy.write_text(yaml.safe_dump(data, sort_keys=False))
    return copy


def test_load_check_reports_a_planted_key(tmp_path):
    copy = _planted(tmp_path, "config/planner.yaml", lambda d: d["optim"].update(bogus_key=1))
    problems = load_problems("planner.yaml", FILES["config/planner.yaml"], copy)
    assert len(problems) == 1 and "optim.bogus_key" in problems[0], problems
    copy = _planted(tmp_path, "config/cameras.yaml", lambda d: d["cameras"][0].update(bogus_key=1))
    assert "bogus_key" in " ".join(load_problems("cameras.yaml", FILES["config/cameras.yaml"], copy))


@dataclasses.dataclass(frozen=True)
class Inner:
    used_here: int = 0
    never_read_anywhere_x7: int = 0


@dataclasses.dataclass(frozen=True)
class Outer:
    inner: tuple[Inner, ...] = ()
    checked_only_x7: float = 1.0


def test_read_check_reports_a_field_nothing_reads(tmp_path):
    source = tmp_path / "user.py"
    source.write_text("class Outer:\n    def __post_init__(self):\n        assert self.checked_only_x7 > 0\n\n\n"
                      "def f(c):\n    return c.used_here + getattr(c, 'inner')\n")
    reads = attribute_reads((source,))
    assert {"used_here", "inner"} <= reads and "checked_only_x7" not in reads
    assert unread_fields("tmp.yaml", Outer, reads) == [
        "tmp.yaml: inner[].never_read_anywhere_x7: Inner.never_read_anywhere_x7 is read nowhere in the packages' code",
        "tmp.yaml: checked_only_x7: Outer.checked_only_x7 is read nowhere in the packages' code"]


def test_ros_check_reports_planted_keys_and_nodes(tmp_path):
    def plant(d: dict) -> None:
        d["refinement"]["ros__parameters"]["bogus_key"] = 1
        d["nobody"] = {"ros__parameters": {"x": 1}}

    copy = _planted(tmp_path, "config/ros/pipeline.yaml", plant)
    problems = ros_parameter_problems("pipeline.yaml", copy, declared_parameters())
    assert len(problems) == 2, problems
    assert "refinement.ros__parameters.bogus_key: not declared by node 'refinement'" in problems[0]
    assert "nobody: no node of ours" in problems[1]
    unread = {"refinement": dataclasses.replace(declared_parameters()["refinement"], read=frozenset())}
    assert any("device: declared but never read" in p
               for p in ros_parameter_problems("pipeline.yaml", REPO / "config/ros/pipeline.yaml", unread))


def test_ros_nodes_are_found():
    nodes = declared_parameters()
    assert {"capture", "fusion", "inference", "refinement", "execution", "orchestrator", "sim_cameras"} <= set(nodes)
    assert {"autostart", "planner_config"} <= nodes["refinement"].declared  # COMMON_PARAMS of a StageNode + its own
    assert "autostart" not in nodes["orchestrator"].declared                  # a plain Node


def test_data_file_check_reports_a_planted_key(tmp_path):
    name = f"{DATA}/hand/contact_candidates.yaml"
    copy = _planted(tmp_path, name, lambda d: (d.update(bogus_top=1), d["candidates"][0].update(bogus_entry=1)))
    assert unread_data_keys("cc.yaml", copy, FILES[name]) == [
        f"cc.yaml: bogus_top: read nowhere in {HAND_ASSETS}", f"cc.yaml: candidates[].bogus_entry: read nowhere in "
                                                               f"{HAND_ASSETS}"]


def test_table_check_reports_orphans_and_unnamed_files(tmp_path):
    (tmp_path / "config").mkdir()
    for f in ("a.yaml", "b.yaml", "README.md"):
        (tmp_path / "config" / f).write_text("x: 1\n")
    (tmp_path / "loader.py").write_text("load('config/a.yaml')\n")
    table = {"config/a.yaml": Dataclass("m:C", ("loader.py",)), "config/gone.yaml": External("x", ()),
             "config/c.yaml": Dataclass("m:C", ("loader.py",))}
    (tmp_path / "config" / "c.yaml").write_text("x: 1\n")
    problems = table_problems(repository_files(tmp_path), table, tmp_path)
    assert problems == ["config/b.yaml: no entry in FILES: say what reads it (or delete it)",
                        "config/gone.yaml: in FILES but not in the repository",
                        "config/c.yaml: FILES says loader.py loads it, but loader.py does not name it"]
