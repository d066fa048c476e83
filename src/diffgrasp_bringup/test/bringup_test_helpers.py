"""Helpers of the workspace-level static checks (a uniquely named module: every package's tests share one pytest
session, where ``import conftest`` would be ambiguous)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
SRC = REPO / "src"
NODES_DIR = SRC / "diffgrasp_ros" / "diffgrasp_ros"


def _assigned(body: list[ast.stmt], name: str) -> ast.AST | None:
    for node in body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return node.value
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", None) == name:
            return node.value
    return None


def _static_value(node: ast.AST, modules: list[ast.Module]):
    """Value of a parameter table expression without running it: literals, names assigned at module level (in
    ``modules``, first match), ``Param(default, ...)`` → default, ``NAME["key"]``, a core class attribute
    (``DemoConfig.field``, imported from diffgrasp), and dicts/lists of these."""
    if isinstance(node, ast.Dict):
        return {_static_value(k, modules): _static_value(v, modules) for k, v in zip(node.keys, node.values)}
    if isinstance(node, (ast.List, ast.Tuple)):
        values = [_static_value(e, modules) for e in node.elts]
        return values if isinstance(node, ast.List) else tuple(values)
    if isinstance(node, ast.Name):
        for module in modules:
            value = _assigned(module.body, node.id)
            if value is not None:
                return _static_value(value, modules)
        raise ValueError(f"cannot resolve {node.id}")
    if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "Param":
        default = node.args[0] if node.args else next(kw.value for kw in node.keywords if kw.arg == "default")
        return _static_value(default, modules)
    if isinstance(node, ast.Subscript):
        return _static_value(node.value, modules)[_static_value(node.slice, modules)]
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):  # a core default: DemoConfig.field
        for module in modules:
            for stmt in module.body:
                if isinstance(stmt, ast.ImportFrom) and stmt.module and stmt.module.split(".")[0] == "diffgrasp" \
                        and any(a.name == node.value.id for a in stmt.names):
                    import importlib

                    return getattr(getattr(importlib.import_module(stmt.module), node.value.id), node.attr)
    return ast.literal_eval(node)


def node_parameters(executable: str) -> dict:
    """Parameters (name → default) of the node behind a diffgrasp_ros console script, read from its file without
    importing rclpy: a module-level or node-class ``PARAMETERS`` dict of literals or ``Param(default, ...)``; a class
    deriving from ``StageNode`` (lifecycle.py) also has lifecycle.py's ``COMMON_PARAMS`` (autostart, ...)."""
    module = console_scripts("diffgrasp_ros")[executable].split(":")[0].split(".")[-1]
    tree = ast.parse((NODES_DIR / f"{module}.py").read_text())
    lifecycle_file = NODES_DIR / "lifecycle.py"
    modules = [tree] + ([ast.parse(lifecycle_file.read_text())] if lifecycle_file.is_file() else [])
    table = _assigned(tree.body, "PARAMETERS")
    params = _static_value(table, modules) if table is not None else {}
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        own = _assigned(cls.body, "PARAMETERS")
        if own is None:
            continue
        if any(getattr(base, "id", getattr(base, "attr", "")) == "StageNode" for base in cls.bases):
            params.update(_static_value(ast.Name(id="COMMON_PARAMS"), modules))
        params.update(_static_value(own, modules))
    return params


def console_scripts(package: str) -> dict[str, str]:
    tree = ast.parse((SRC / package / "setup.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg == "entry_points":
                    scripts = ast.literal_eval(kw.value)["console_scripts"]
                    return dict(s.replace(" ", "").split("=", 1) for s in scripts)
    raise AssertionError(f"{package}/setup.py: no console_scripts")


# --- Evaluating launch files without launch/launch_ros (not installable off ROS machines) -------------------------

LAUNCH_MODULES = ("launch", "launch.actions", "launch.conditions", "launch.event_handlers",
                  "launch.launch_description_sources", "launch.substitutions", "launch_ros", "launch_ros.actions",
                  "launch_ros.parameter_descriptions", "launch_ros.substitutions")


class FakeAction:
    """Stand-in for any launch / launch_ros class: records its arguments; ``kind`` is the class name."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs

    @property
    def kind(self) -> str:
        return type(self).__name__


def _perform(value, context) -> str:
    return value if isinstance(value, str) else value.perform(context)


class LaunchConfiguration(FakeAction):
    def perform(self, context) -> str:
        return context.launch_configurations[self.args[0]]


class FindPackageShare(FakeAction):
    def perform(self, context) -> str:
        return str(context.shares[self.args[0]])


class PathJoinSubstitution(FakeAction):
    def perform(self, context) -> str:
        return str(Path(*(_perform(part, context) for part in self.args[0])))


class FakeLaunchContext:
    def __init__(self, launch_configurations: dict, shares: dict | None = None):
        self.launch_configurations = dict(launch_configurations)
        self.shares = {"diffgrasp_bringup": REPO, **(shares or {})}


def _fake_module(name: str, classes: dict):
    """A module (package) whose every attribute is a FakeAction subclass, shared by name across modules."""
    import types

    module = types.ModuleType(name)

    def __getattr__(attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        if attr not in classes:
            classes[attr] = type(attr, (FakeAction,), {})
        return classes[attr]

    module.__getattr__ = __getattr__
    module.__path__ = []  # a package, so that ``import launch.actions`` works
    return module


def load_launch_file(path: Path, monkeypatch):
    """Import a launch file with recording stand-ins for launch and launch_ros (restored by ``monkeypatch``).
    Functions such as an OpaqueFunction's can then be called with a ``FakeLaunchContext``; the actions they return
    are ``FakeAction``s (``kind`` = e.g. "Node" or "LifecycleNode", ``kwargs`` = the keyword arguments)."""
    import importlib.util
    import sys

    classes = {cls.__name__: cls for cls in (LaunchConfiguration, FindPackageShare, PathJoinSubstitution)}
    for name in LAUNCH_MODULES:
        monkeypatch.setitem(sys.modules, name, _fake_module(name, classes))
    spec = importlib.util.spec_from_file_location(f"launch_file_{path.name.replace('.', '_')}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def merged_parameters(action: FakeAction) -> dict:
    """The parameter dicts of a Node/LifecycleNode merged in order (parameter files are skipped)."""
    merged = {}
    for entry in action.kwargs.get("parameters", []):
        if isinstance(entry, dict):
            merged.update(entry)
    return merged


def launch_ros_evaluated(value):
    """What launch_ros (Jazzy: normalize_parameter_dict + evaluate_parameter_dict) hands the node for a plain Python
    value in a parameters dict: a ``str`` is dumped to YAML and loaded back (so it stays the same string, quotes
    included); bool/int/float pass unchanged."""
    import yaml

    return yaml.safe_load(yaml.dump(value)) if isinstance(value, str) else value
