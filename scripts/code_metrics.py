#!/usr/bin/env python3
"""Code-structure metrics of diffgrasp source trees, printed as a Markdown table with one column per tree (issue 22).

Usage: ``python scripts/code_metrics.py [--verbose] [--top 5] --label before /tmp/old --label after .`` (each ROOT a
repository root; bare roots are labelled by their folder name). Nothing of a tree is imported: the Python files are
read with ``ast``, the YAML files with ``yaml``, and the ``duplicates`` command-line tool is run on two folders.

What is read: the modules of the three packages (``src/diffgrasp/diffgrasp``, ``src/diffgrasp_ros/diffgrasp_ros``,
``src/diffgrasp_training/diffgrasp_training``; not their tests) plus every ``*.py`` under ``bench/`` and ``scripts/``
but this script (rows 1-4); ``ROOT/src`` (packages and their tests) and ``ROOT/bench`` (row 5); ``config/**/*.yaml``
(row 6).

Rows:

1. Largest module: lines of the file, and how many modules have more than 400 (STYLE: about 400, one job each).
2. Longest function or method (nested ones too): ``end_lineno - lineno + 1`` of its ``def``; how many exceed 60.
3. Most parameters: positional + keyword-only without ``self``/``cls``, ``*args`` and ``**kwargs`` one each; how many
   functions take more than 8.
4. Function-local imports: ``import`` statements inside a function body, not under ``if TYPE_CHECKING:``; how many of
   them import our own packages (``diffgrasp``, ``diffgrasp_ros``, ``diffgrasp_training``, or a relative import).
5. Duplicate blocks: the pair count on the first line of ``duplicates --repo ROOT/src --min-lines 6 --most 200
   --seconds 120`` (and how many of its pairs lie wholly outside test folders), and the same for ``ROOT/bench``.
6. Config values defined in more than one place: the sum of

   (a) flat override fields. A field of a config dataclass (an ``@dataclass`` class named ``*Config`` in the
       packages) named ``<concern>_<rest>``, where ``<concern>`` names another config class (``PlannerConfig`` ->
       ``planner``, ``PhysicsRankConfig`` -> ``physics_rank``, or a field that holds one: ``PlannerConfig.post`` ->
       ``post``) and ``<rest>`` is one of that class's field paths joined by ``_`` (``reseed_rounds`` =
       ``reseed.rounds``) or the tail of one (``iterations`` ~ ``optim.iterations``, ``candidates`` ~
       ``min_candidates``). E.g. ``DemoConfig.planner_time_budget_s`` ~ ``PlannerConfig.time_budget_s``. Not counted:
       ``<concern>_config`` (the name of that concern's YAML file) and a bare unit (``<concern>_m``). Also counted,
       one per key: a dict field named after a concern whose default's keys are that class's fields
       (``PlannerConfig.loss = {"w_q1": 5.0, ...}`` ~ ``LossConfig.w_q1``).
   (b) cross-config ``replace`` calls in package code (not bench/ or scripts/): ``dataclasses.replace(target, f=v)``
       where a value reads an attribute of an object whose name says config (``config``/``cfg``, any case, after
       following ``name = a.b`` aliases in the same function) other than ``target`` or an object inside it, i.e.
       one config's fields written from another config's values (``replace(base.optim,
       iterations=cfg.planner_iterations)``; ``replace(config.optim, iterations=rs.iterations)`` after ``rs =
       config.reseed``; ``replace(LossConfig(), **config.loss)``). One per call, nested calls apart. Missed: values
       that reach the call through function arguments or computed variables; miscounted: a non-config target filled
       from a config.
   (c) the same YAML value written twice: a leaf of ``config/**/*.yaml`` whose key and value also stand in another
       file under another key path (same leaf name, equal value). One per key and value. Not compared: values that
       say little (booleans, null, "", [], 0) and pairs with the same full key path (alternative or overlay files of
       one schema such as ``cameras.yaml``/``cameras_sim.yaml`` and ``ros/pipeline.yaml``/``ros/sim_overrides.yaml``).
       ROS ``ros__parameters`` levels are dropped from key paths and list items of mappings are ``[]``.

   Row 6' (not in the total) lists the YAML overrides: leaves of one file that set a setting of another file, under a
   mapping named after that file (``planner.yaml`` ``loss: {w_q1: 5.0}`` ~ ``loss.yaml`` ``w_q1``) or under a key
   ``<stem>_<rest>`` (``demo.yaml`` ``planner_iterations`` ~ ``planner.yaml`` ``optim.iterations``), matched as in (a),
   whatever the values. They are counted as values and as places (the key where the other file's concern begins: one
   nested ``planner:`` mapping is one place, five flat ``planner_*`` keys are five).

Also printed per tree: the number of modules and their lines. ``--verbose`` adds, per tree, the lists behind row 6 and
6' and the worst offenders: the ``--top`` longest functions, the most parameters, the modules over 400 lines and the
files with the most function-local imports of our own packages.
"""

from __future__ import annotations

import argparse
import ast
import re
import subprocess
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

PACKAGE_DIRS = ("src/diffgrasp/diffgrasp", "src/diffgrasp_ros/diffgrasp_ros",
                "src/diffgrasp_training/diffgrasp_training")
OTHER_DIRS = ("bench", "scripts")
OWN_PACKAGES = {"diffgrasp", "diffgrasp_ros", "diffgrasp_training"}
BIG_MODULE = 400  # lines
LONG_FUNCTION = 60  # lines
MANY_PARAMETERS = 8
UNIT_SUFFIXES = {"m", "s", "ms", "deg", "rad", "px", "hz"}
CONFIG_NAME = re.compile(r"config|cfg", re.IGNORECASE)
SELF = "scripts/code_metrics.py"  # not measured: the numbers stay comparable with trees that lack it
DUPLICATE_ROW = re.compile(r"^D\d+ (\S+?):\d+-\d+ ~ (\S+?):\d+-\d+")

KeyPath = tuple[str, ...]  # a key or field path


@dataclass
class Module:
    path: str  # relative to the repository root
    name: str  # dotted: diffgrasp.planning.planner, bench.planner
    lines: int
    tree: ast.Module
    in_package: bool  # under PACKAGE_DIRS, not bench/ or scripts/


@dataclass
class Function:
    name: str  # module.Class.method, module.outer.inner
    lines: int
    parameters: int


@dataclass
class LocalImport:
    path: str
    line: int
    own: bool


@dataclass
class Duplicates:
    pairs: int | None  # None: the first line said no count
    outside_tests: int
    note: str  # "" or why the count is partial

    def cell(self) -> str:
        if self.pairs is None:
            return f"? ({self.note})"
        return f"{self.pairs}" + (f" ({self.note})" if self.note else "")


@dataclass
class TreeMetrics:
    label: str
    commit: str
    modules: list[Module]
    functions: list[Function]
    local_imports: list[LocalImport]
    duplicates: dict[str, Duplicates]  # folder -> count
    flat_fields: list[str]  # (a)
    replace_calls: list[str]  # (b)
    yaml_duplicates: list[str]  # (c)
    yaml_overrides: list[str]  # 6'
    override_places: int


# ---------------------------------------------------------------------------------------------------------- reading


def read_modules(root: Path) -> list[Module]:
    modules = []
    for top in PACKAGE_DIRS + OTHER_DIRS:
        base = root / top
        name_base = base.parent if top in PACKAGE_DIRS else root  # diffgrasp.x.y for packages, bench.x for the rest
        for path in sorted(base.rglob("*.py")):
            if path.relative_to(root).as_posix() == SELF:
                continue
            text = path.read_text(encoding="utf-8")
            rel = path.relative_to(root).as_posix()
            name = ".".join(path.relative_to(name_base).with_suffix("").parts).removesuffix(".__init__")
            modules.append(Module(rel, name, len(text.splitlines()), ast.parse(text, rel), top in PACKAGE_DIRS))
    return modules


def git_commit(root: Path) -> str:
    done = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                          check=False)
    return done.stdout.strip()


# ------------------------------------------------------------------------------------ rows 1-4: modules, functions


def is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def count_parameters(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    args = fn.args
    named = [a for a in args.posonlyargs + args.args + args.kwonlyargs if a.arg not in ("self", "cls")]
    return len(named) + (args.vararg is not None) + (args.kwarg is not None)


def imports_own_package(node: ast.Import | ast.ImportFrom) -> bool:
    if isinstance(node, ast.ImportFrom):
        return node.level > 0 or (node.module or "").split(".")[0] in OWN_PACKAGES
    return any(alias.name.split(".")[0] in OWN_PACKAGES for alias in node.names)


def scan_functions(module: Module) -> tuple[list[Function], list[LocalImport]]:
    """Every function (nested ones too) and every import statement inside a function body."""
    functions: list[Function] = []
    imports: list[LocalImport] = []

    def visit(nodes: Iterable[ast.AST], prefix: str, in_function: bool) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and is_type_checking(node):
                visit(node.orelse, prefix, in_function)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = f"{prefix}.{node.name}"
                functions.append(Function(name, node.end_lineno - node.lineno + 1, count_parameters(node)))
                visit(node.body, name, True)
            elif isinstance(node, ast.ClassDef):
                visit(node.body, f"{prefix}.{node.name}", in_function)
            else:
                if in_function and isinstance(node, (ast.Import, ast.ImportFrom)):
                    imports.append(LocalImport(module.path, node.lineno, imports_own_package(node)))
                visit(ast.iter_child_nodes(node), prefix, in_function)

    visit(module.tree.body, module.name, False)
    return functions, imports


# ---------------------------------------------------------------------------------------------- row 5: duplicates


def count_duplicates(folder: Path) -> Duplicates:
    """Pairs on the first line of ``duplicates`` ("N pairs of places (M files read), ..." or "no duplicates ...")."""
    if not folder.is_dir():
        return Duplicates(0, 0, "no folder")
    command = ["duplicates", "--repo", str(folder), "--min-lines", "6", "--most", "200", "--seconds", "120"]
    try:
        out = subprocess.run(command, capture_output=True, text=True, check=False, timeout=300).stdout
    except (OSError, subprocess.TimeoutExpired) as err:
        return Duplicates(None, 0, f"duplicates did not run: {err}")
    lines = out.splitlines()
    first = lines[0].strip() if lines else ""
    match = re.match(r"(\d+) pairs?\b", first)
    if match:
        pairs = int(match.group(1))
    elif first.lower().startswith("no duplicates"):
        pairs = 0
    else:
        return Duplicates(None, 0, f"first line: {first!r}")
    outside = sum(1 for line in lines if (row := DUPLICATE_ROW.match(line))
                  and not any(re.search(r"(^|/)tests?/", side) for side in row.groups()))
    notes = [line for line in lines if line.startswith("incomplete:")]
    if any(re.match(r"\(\+\d+ more pairs\)", line) for line in lines):
        notes.append("rows cut at 200: outside-tests count partial")
    return Duplicates(pairs, outside, "; ".join(notes))


# ------------------------------------------------------------------------------- row 6 (a): flat override fields


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def is_dataclass(cls: ast.ClassDef) -> bool:
    targets = (d.func if isinstance(d, ast.Call) else d for d in cls.decorator_list)
    return any(ast.unparse(t) in ("dataclass", "dataclasses.dataclass") for t in targets)


def config_classes(modules: list[Module]) -> dict[str, dict[str, ast.AnnAssign]]:
    """Config dataclass name -> its fields (name -> annotated assignment), from the packages."""
    classes = {}
    for module in modules:
        if not module.in_package:
            continue
        for node in ast.walk(module.tree):
            if isinstance(node, ast.ClassDef) and node.name.endswith("Config") and is_dataclass(node):
                classes[node.name] = {
                    stmt.target.id: stmt for stmt in node.body
                    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)
                    and "ClassVar" not in ast.unparse(stmt.annotation)}
    return classes


def nested_config(stmt: ast.AnnAssign, classes: dict) -> str | None:
    """The config class a field holds (``optim: OptimConfig``, ``coacd: CoacdConfig | None``), if any."""
    return next((word for word in re.findall(r"\w+", ast.unparse(stmt.annotation)) if word in classes), None)


def field_paths(name: str, classes: dict, seen: tuple[str, ...] = ()) -> Iterator[KeyPath]:
    for field, stmt in classes[name].items():
        yield (field,)
        inner = nested_config(stmt, classes)
        if inner and inner not in seen + (name,):
            yield from ((field,) + path for path in field_paths(inner, classes, seen + (name,)))


def find_setting(rest: str, paths: Iterable[KeyPath]) -> KeyPath | None:
    """The path that joined by ``_`` is ``rest``, else the shortest that ends in ``_rest`` (the first of equals)."""
    paths = sorted(paths, key=len)
    exact = [p for p in paths if "_".join(p) == rest]
    return (exact or [p for p in paths if "_".join(p).endswith("_" + rest)] or [None])[0]


def split_concern(key: str, concern: str) -> str | None:
    """``rest`` of ``key`` = ``<concern>_<rest>``, unless it names a YAML file or only a unit."""
    if not key.startswith(concern + "_"):
        return None
    rest = key[len(concern) + 1:]
    return None if rest == "config" or rest in UNIT_SUFFIXES else rest


def dict_default_keys(stmt: ast.AnnAssign) -> list[str]:
    """String keys of the first dict literal in a field's default (``field(default_factory=lambda: {...})``)."""
    for node in ast.walk(stmt.value) if stmt.value else ():
        if isinstance(node, ast.Dict):
            return [k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)]
    return []


def flat_override_fields(classes: dict[str, dict[str, ast.AnnAssign]]) -> list[str]:
    concerns: dict[str, set[str]] = defaultdict(set)  # concern name -> the config classes it names
    for name, fields in classes.items():
        concerns[snake(name.removesuffix("Config"))].add(name)
        for field, stmt in fields.items():
            if inner := nested_config(stmt, classes):
                concerns[field].add(inner)
    found: dict[str, str] = {}  # one line per field or dict key
    for name, fields in classes.items():
        for field, stmt in fields.items():
            for concern, targets in sorted(concerns.items()):
                rest = split_concern(field, concern)
                for target in sorted(targets - {name}):
                    hit = rest and find_setting(rest, field_paths(target, classes))
                    if hit:
                        found.setdefault(f"{name}.{field}", f"{name}.{field} ~ {target}.{'.'.join(hit)}")
                    if field == concern:
                        for key in dict_default_keys(stmt):
                            if key in classes[target]:
                                found.setdefault(f"{name}.{field}[{key}]",
                                                 f"{name}.{field}[{key!r}] ~ {target}.{key}")
    return list(found.values())


# ------------------------------------------------------------------------------- row 6 (b): cross-config replace()


def chain(node: ast.AST) -> str | None:
    """``a.b.c`` for a name or an attribute chain, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = chain(node.value)
        return inner and f"{inner}.{node.attr}"
    return None


def resolve(text: str, aliases: dict[str, str], depth: int = 0) -> str:
    """``text`` with its first name replaced by what ``name = a.b`` assigned to it (a few levels deep)."""
    root, dot, rest = text.partition(".")
    if root not in aliases or depth > 4:
        return text
    return resolve(aliases[root], aliases, depth + 1) + dot + rest


def scopes(tree: ast.Module) -> Iterator[list[ast.AST]]:
    """The nodes of the module and of each function, without those of the functions nested in it."""
    for scope in ast.walk(tree):
        if isinstance(scope, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef)):
            nodes, stack = [], list(ast.iter_child_nodes(scope))
            while stack:
                node = stack.pop()
                nodes.append(node)
                if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    stack.extend(ast.iter_child_nodes(node))
            yield nodes


def cross_config_replaces(modules: list[Module]) -> list[str]:
    found = []
    for module in (m for m in modules if m.in_package):
        bare = any(isinstance(n, ast.ImportFrom) and n.module == "dataclasses" and any(a.name == "replace"
                                                                                       for a in n.names)
                   for n in ast.walk(module.tree))
        names = {"dataclasses.replace"} | ({"replace"} if bare else set())
        for nodes in scopes(module.tree):
            aliases = {n.targets[0].id: chain(n.value) for n in nodes if isinstance(n, ast.Assign)
                       and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name) and chain(n.value)}
            for call in nodes:
                if not (isinstance(call, ast.Call) and chain(call.func) in names and call.args):
                    continue
                target = resolve(chain(call.args[0]) or ast.unparse(call.args[0]), aliases)
                sources = [resolve(obj, aliases) for kw in call.keywords for n in ast.walk(kw.value)
                           if isinstance(n, ast.Attribute) and (obj := chain(n.value))]
                sources = [s for s in sources if CONFIG_NAME.search(s) and s != target and not
                           s.startswith(target + ".")]
                if sources:
                    found.append((module.path, call.lineno, f"replace({ast.unparse(call.args[0])}, ...) from "
                                  f"{', '.join(dict.fromkeys(sources))}"))
    return [f"{path}:{line} {text}" for path, line, text in sorted(found)]


# ------------------------------------------------------------------------------------- row 6 (c) and 6': YAML


def flatten(data: object, path: KeyPath = ()) -> Iterator[tuple[KeyPath, object]]:
    """(key path, value) of every mapping entry; ``ros__parameters`` levels dropped, list items of mappings ``[]``."""
    if isinstance(data, dict):
        for key, value in data.items():
            sub = path if key == "ros__parameters" else path + (str(key),)
            if sub != path:
                yield sub, value
            yield from flatten(value, sub)
    elif isinstance(data, list) and any(isinstance(item, dict) for item in data):
        for item in data:
            yield from flatten(item, path + ("[]",))


def is_leaf(value: object) -> bool:
    return not isinstance(value, dict) and not (isinstance(value, list) and any(isinstance(v, dict) for v in value))


def value_key(value: object) -> str | None:
    """A comparable form of a leaf value, or None for values that say little (bool, null, "", [], 0)."""
    if value is None or isinstance(value, bool) or value in ("", [], 0):
        return None
    if isinstance(value, list):
        return repr([float(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value])
    return repr(float(value)) if isinstance(value, int) else repr(value)


def read_yaml(root: Path) -> dict[str, list[tuple[KeyPath, object]]]:
    settings = {}
    for path in sorted((root / "config").rglob("*.yaml")):
        try:
            documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        except yaml.YAMLError:
            continue
        settings[path.relative_to(root / "config").as_posix()] = [kv for doc in documents for kv in flatten(doc)]
    return settings


def yaml_duplicates(settings: dict[str, list[tuple[KeyPath, object]]]) -> list[str]:
    places: dict[tuple[str, str], list[tuple[str, KeyPath]]] = defaultdict(list)
    shown: dict[tuple[str, str], object] = {}
    for file, items in settings.items():
        for path, value in items:
            key = value_key(value) if is_leaf(value) else None
            if key is not None:
                places[(path[-1], key)].append((file, path))
                shown[(path[-1], key)] = value
    found = []
    for (leaf, key), where in places.items():
        kept = [(f, p) for f, p in where if any(g != f and q != p for g, q in where)]
        if kept:
            found.append(f"{leaf}: {shown[(leaf, key)]!r} in " + ", ".join(f"{f}:{'.'.join(p)}" for f, p in kept))
    return found


def yaml_overrides(settings: dict[str, list[tuple[KeyPath, object]]]) -> tuple[list[str], int]:
    """Leaves that set another file's setting, and the number of places (keys) where that file's concern begins."""
    found, places = [], set()
    for file, items in settings.items():
        for path, value in items:
            if not is_leaf(value):
                continue
            for other in sorted(settings.keys() - {file}):
                stem = Path(other).stem
                for i, segment in enumerate(path):
                    if segment == stem:
                        rest = "_".join(path[i + 1:])
                    else:
                        head = split_concern(segment, stem)
                        rest = head and "_".join((head,) + path[i + 1:])
                    hit = rest and find_setting(rest, (p for p, _ in settings[other]))
                    if hit and hit != path:  # the same key path: alternative files of one schema
                        other_value = dict(settings[other]).get(hit)
                        found.append(f"{file}:{'.'.join(path)} = {value!r} ~ {other}:{'.'.join(hit)}"
                                     + ("" if isinstance(other_value, dict) else f" = {other_value!r}"))
                        places.add((file, path[:i + 1]))
                        break
    return found, len(places)


# ------------------------------------------------------------------------------------------------------ the table


def measure(label: str, root: Path, duplicates: bool) -> TreeMetrics:
    modules = read_modules(root)
    functions, local_imports = [], []
    for module in modules:
        fns, imports = scan_functions(module)
        functions += fns
        local_imports += imports
    dups = {folder: count_duplicates(root / folder) for folder in ("src", "bench")} if duplicates else {}
    settings = read_yaml(root)
    overrides, override_places = yaml_overrides(settings)
    return TreeMetrics(label, git_commit(root), modules, functions, local_imports, dups,
                       flat_override_fields(config_classes(modules)), cross_config_replaces(modules),
                       yaml_duplicates(settings), overrides, override_places)


def rows(t: TreeMetrics) -> list[str]:
    biggest = max(t.modules, key=lambda m: m.lines)
    longest = max(t.functions, key=lambda f: f.lines)
    widest = max(t.functions, key=lambda f: f.parameters)
    own = sum(i.own for i in t.local_imports)
    dups = ", ".join(f"{folder}/ {d.cell()}" + (f" ({d.outside_tests} outside tests)" if folder == "src" else "")
                     for folder, d in t.duplicates.items()) or "not run"
    a, b, c = len(t.flat_fields), len(t.replace_calls), len(t.yaml_duplicates)
    return [
        f"{len(t.modules)} modules, {sum(m.lines for m in t.modules):,} lines",
        f"`{biggest.path}` {biggest.lines} ({sum(m.lines > BIG_MODULE for m in t.modules)} over {BIG_MODULE})",
        f"`{longest.name}` {longest.lines} ({sum(f.lines > LONG_FUNCTION for f in t.functions)} over {LONG_FUNCTION})",
        f"`{widest.name}` {widest.parameters} "
        f"({sum(f.parameters > MANY_PARAMETERS for f in t.functions)} over {MANY_PARAMETERS})",
        f"{len(t.local_imports)} ({own} of our own packages)",
        dups,
        f"{a + b + c} (a: {a} fields, b: {b} replace calls, c: {c} YAML values)",
        f"{len(t.yaml_overrides)} values at {t.override_places} places",
    ]


ROW_NAMES = [
    "Modules, lines (packages + bench/ + scripts/)",
    f"1. Largest module, lines (modules over {BIG_MODULE})",
    f"2. Longest function, lines (functions over {LONG_FUNCTION})",
    f"3. Most parameters (functions over {MANY_PARAMETERS})",
    "4. Function-local imports (of our own packages)",
    "5. Duplicate blocks of 6+ lines, pairs",
    "6. Config values defined in more than one place",
    "6'. YAML overrides of another file's setting (not in 6)",
]


def table(trees: list[TreeMetrics]) -> str:
    heads = [f"{t.label} (`{t.commit}`)" if t.commit else t.label for t in trees]
    lines = ["| metric | " + " | ".join(heads) + " |", "| --- |" + " --- |" * len(trees)]
    columns = [rows(t) for t in trees]
    lines += [f"| {name} | " + " | ".join(col[i] for col in columns) + " |" for i, name in enumerate(ROW_NAMES)]
    return "\n".join(lines)


def details(t: TreeMetrics, top: int) -> str:
    def section(title: str, items: list[str]) -> list[str]:
        return ["", f"{title}: {len(items)}"] + [f"- {item}" for item in items]

    own_by_file = Counter(i.path for i in t.local_imports if i.own)
    all_by_file = Counter(i.path for i in t.local_imports)
    out = [f"### {t.label}" + (f" ({t.commit})" if t.commit else "")]
    out += section("6 (a) flat override fields", t.flat_fields)
    out += section("6 (b) cross-config replace() calls", t.replace_calls)
    out += section("6 (c) YAML values written twice", t.yaml_duplicates)
    out += section(f"6' YAML overrides ({t.override_places} places)", t.yaml_overrides)
    out += section(f"Longest functions (top {top})",
                   [f"`{f.name}` {f.lines}" for f in sorted(t.functions, key=lambda f: -f.lines)[:top]])
    out += section(f"Most parameters (top {top})",
                   [f"`{f.name}` {f.parameters}" for f in sorted(t.functions, key=lambda f: -f.parameters)[:top]])
    out += section(f"Modules over {BIG_MODULE} lines",
                   [f"`{m.path}` {m.lines}" for m in sorted(t.modules, key=lambda m: -m.lines) if m.lines > BIG_MODULE])
    out += section(f"Function-local imports of our own packages, by file (top {top})",
                   [f"`{path}` {n} (of {all_by_file[path]} local imports)" for path, n in own_by_file.most_common(top)])
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("roots", nargs="*", type=Path, help="repository roots, labelled by their folder name")
    p.add_argument("--label", nargs=2, action="append", default=[], metavar=("NAME", "ROOT"),
                   help="a repository root and its column name (repeatable, columns in order)")
    p.add_argument("--verbose", action="store_true", help="list what row 6 counts and the worst offenders")
    p.add_argument("--top", type=int, default=5, help="offenders listed per kind with --verbose (default 5)")
    p.add_argument("--no-duplicates", action="store_true", help="skip row 5 (the duplicates tool)")
    args = p.parse_args(argv)
    roots = [(name, Path(root)) for name, root in args.label] + [(r.resolve().name, r) for r in args.roots]
    if not roots:
        p.error("name at least one repository root")
    for _, root in roots:
        if not (root / "src").is_dir():
            p.error(f"{root}: no src/ folder (not a diffgrasp repository root?)")
    trees = [measure(name, root, not args.no_duplicates) for name, root in roots]
    print(table(trees))
    if args.verbose:
        for t in trees:
            print()
            print(details(t, args.top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
