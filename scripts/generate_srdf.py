#!/usr/bin/env python3
"""Generate ``config/moveit/ur10e_shadow.srdf`` for ``urdf/robot_cell.urdf`` (MoveIt's robot_description).

Groups, named states and the end effector are defined below. The disabled collision pairs are computed like the MoveIt
Setup Assistant does, but with MuJoCo as the collision checker on the same primitives the URDF carries:

- User: the pairs of USER_DISABLED (collision primitives that overlap at full finger flexion);
- Adjacent: links with collision geometry that are neighbours in the URDF tree once geometry-less links (tool0,
  rh_mount, world, ...) are collapsed;
- Default: in collision in the default state (arm home, hand open = the ros2_control initial values);
- Always: in collision in every one of ``--samples`` uniformly random joint configurations;
- Never: closer than NEVER_CLEARANCE (2 cm) in none of them (the clearance keeps rarely met pairs checked).

MuJoCo collides mesh geoms (forearm, distal phalanges) as their convex hulls, which contain the meshes MoveIt uses,
so "Never" is conservative: a pair MuJoCo never finds touching cannot touch with the real meshes either.
Usage: ``python scripts/generate_srdf.py [--samples 50000] [--seed 0]``.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import mujoco
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate_urdf import MODELS, ROOT, write_atomic  # noqa: E402

SRDF_PATH = ROOT / "config" / "moveit" / "ur10e_shadow.srdf"
CELL_URDF = ROOT / "urdf" / "robot_cell.urdf"
ARM_JOINTS = ("shoulder_pan_joint", "shoulder_lift_joint", "elbow_joint", "wrist_1_joint", "wrist_2_joint",
              "wrist_3_joint")
ARM_HOME = (0.0, -1.5708, 1.5708, -1.5708, -1.5708, 0.0)
WRIST_JOINTS = ("rh_WRJ2", "rh_WRJ1")
FINGER_JOINTS = tuple(f"rh_{f}J{j}" for f in ("FF", "MF", "RF") for j in (4, 3, 2, 1)) + tuple(
    f"rh_LFJ{j}" for j in (5, 4, 3, 2, 1)) + tuple(f"rh_THJ{j}" for j in (5, 4, 3, 2, 1))
HAND_PACK = {**{f"rh_{f}J{j}": v for f in ("FF", "MF", "RF", "LF") for j, v in ((4, 0.0), (3, 1.5708), (2, 1.5708),
                                                                                (1, 1.0))},
             "rh_LFJ5": 0.0, "rh_THJ5": 0.0, "rh_THJ4": 0.0, "rh_THJ3": 0.0, "rh_THJ2": 0.0, "rh_THJ1": 0.0}
"""Fingers curled into the palm, thumb straight alongside (a compact transport shape)."""
NAMED_STATES = {
    ("home", "arm"): dict(zip(ARM_JOINTS, ARM_HOME)),
    ("open", "hand"): {name: 0.0 for name in FINGER_JOINTS},
    ("pack", "hand"): {name: HAND_PACK[name] for name in FINGER_JOINTS},
    ("neutral", "wrist"): {name: 0.0 for name in WRIST_JOINTS},
}
USER_DISABLED = (("rh_ffproximal", "rh_palm"), ("rh_mfproximal", "rh_palm"), ("rh_palm", "rh_rfproximal"),
                 ("rh_lfmetacarpal", "rh_lfproximal"))
"""Disabled by hand ('User'): a proximal phalanx and the link above its zero-length knuckle. Their primitives (a
capsule whose end reaches behind the J3 axis, the palm boxes) overlap for J3 > ~1.35 rad, within the joint limits;
the real hand is built for full flexion there, so MoveIt must not reject those grasps."""
NEVER_CLEARANCE = 0.02
"""m: a pair is disabled as 'Never' only if no sample brings it closer than this."""
CELL = {"arm_xyz": (-0.65, 0.0, 0.0), "arm_yaw": 0.0, "table_xy": (-0.2, 0.0), "table_size": (1.5, 1.2, 0.04)}
"""robot_cell.urdf.xacro defaults (checked against the expanded URDF by the tests)."""


def urdf_tree(path: Path) -> tuple[dict[str, str], set[str]]:
    """(child link → parent link, links with collision geometry) of a URDF."""
    root = ET.parse(path).getroot()
    parent = {j.find("child").get("link"): j.find("parent").get("link") for j in root.findall("joint")}
    geometric = {link.get("name") for link in root.findall("link") if link.find("collision") is not None}
    return parent, geometric


def adjacent_pairs(parent: dict[str, str], geometric: set[str]) -> set[tuple[str, str]]:
    """Pairs (sorted) of geometric links that are tree neighbours once geometry-less links are collapsed (as in the
    MoveIt Setup Assistant: links joined only through frames without geometry count as adjacent)."""
    neighbours: dict[str, set[str]] = {}
    for child, par in parent.items():
        neighbours.setdefault(child, set()).add(par)
        neighbours.setdefault(par, set()).add(child)
    pairs = set()
    for link in geometric:
        seen, stack = {link}, list(neighbours.get(link, ()))
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            if node in geometric:
                pairs.add(tuple(sorted((link, node))))
            else:
                stack.extend(neighbours.get(node, ()))
    return pairs


def collision_model(margin: float = 0.0) -> mujoco.MjModel:
    """The cell in MuJoCo: table, arm at the cell placement, hand on attachment_site; every collision geom collides
    with every other one (no parent filter, no excludes). Contacts are reported up to ``margin`` (m) apart."""
    arm = mujoco.MjSpec.from_file(str(MODELS / "ur10e" / "ur10e.xml"))
    hand = mujoco.MjSpec.from_file(str(MODELS / "shadow_hand" / "right_hand.xml"))
    forearm = hand.body("rh_forearm")
    forearm.pos, forearm.quat = [0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]
    arm.attach(hand, site=arm.site("attachment_site"), prefix="hand/")
    spec = mujoco.MjSpec()
    spec.option.disableflags |= int(mujoco.mjtDisableBit.mjDSBL_FILTERPARENT)
    sx, sy, sz = CELL["table_size"]
    table = spec.worldbody.add_body(name="table", pos=[*CELL["table_xy"], -sz / 2])
    table.add_geom(type=mujoco.mjtGeom.mjGEOM_BOX, size=[sx / 2, sy / 2, sz / 2])
    yaw = CELL["arm_yaw"] + np.pi  # base_link yaw; the MJCF base body adds another pi
    frame = spec.worldbody.add_frame(pos=list(CELL["arm_xyz"]), quat=[np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)])
    spec.attach(arm, frame=frame, prefix="arm/")
    for exclude in list(spec.excludes):
        spec.delete(exclude)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # attach conflicts of solver options (irrelevant here)
        model = spec.compile()
    collide = (model.geom_contype != 0) | (model.geom_conaffinity != 0)
    model.geom_contype[:] = collide
    model.geom_conaffinity[:] = collide
    model.geom_margin[:] = margin
    return model


def link_name(model: mujoco.MjModel, geom: int) -> str:
    return model.body(model.geom_bodyid[geom]).name.removeprefix("arm/").removeprefix("hand/")


def contact_distances(model: mujoco.MjModel, data: mujoco.MjData, qpos: np.ndarray) -> dict[tuple[str, str], float]:
    """Sorted link-name pair → smallest signed distance (m, < 0 penetrating) among contacts found at ``qpos``
    (pairs further apart than the model's geom margin are absent)."""
    data.qpos[:] = qpos
    mujoco.mj_kinematics(model, data)
    mujoco.mj_collision(model, data)
    out: dict[tuple[str, str], float] = {}
    for c in data.contact[: data.ncon]:
        a, b = link_name(model, c.geom1), link_name(model, c.geom2)
        if a != b:
            pair = (a, b) if a < b else (b, a)
            out[pair] = min(out.get(pair, np.inf), float(c.dist))
    return out


def colliding_pairs(model: mujoco.MjModel, data: mujoco.MjData, qpos: np.ndarray) -> set[tuple[str, str]]:
    """Sorted link-name pairs in contact (penetration) at ``qpos``."""
    return {pair for pair, dist in contact_distances(model, data, qpos).items() if dist <= 0.0}


def joint_qpos(model: mujoco.MjModel, values: dict[str, float]) -> np.ndarray:
    qpos = model.qpos0.copy()
    for name, value in values.items():
        jid = model.joint(("arm/" if name in ARM_JOINTS else "arm/hand/") + name).id
        qpos[model.jnt_qposadr[jid]] = value
    return qpos


def random_qpos(model: mujoco.MjModel, rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, nq) uniform samples within the joint ranges (all joints are limited hinges)."""
    lo, hi = model.jnt_range[:, 0], model.jnt_range[:, 1]
    return lo + (hi - lo) * rng.random((n, model.nq))


def classify(samples: int, seed: int) -> dict[tuple[str, str], str]:
    """Disabled pair → reason ('Adjacent', 'User', 'Default', 'Always', 'Never'). 'Never' requires the pair to stay more
    than NEVER_CLEARANCE apart in every sample, so rarely met pairs (thumb against little finger) stay checked."""
    from tqdm import tqdm

    parent, geometric = urdf_tree(CELL_URDF)
    model = collision_model(margin=NEVER_CLEARANCE)
    data = mujoco.MjData(model)
    names = {link_name(model, g) for g in range(model.ngeom) if model.geom_contype[g]}
    if names != geometric:
        raise RuntimeError(f"MuJoCo and URDF collision links differ: {sorted(names ^ geometric)}")
    reasons = {pair: "Adjacent" for pair in adjacent_pairs(parent, geometric)}
    for pair in USER_DISABLED:
        reasons.setdefault(tuple(sorted(pair)), "User")
    default = {**NAMED_STATES[("home", "arm")], **NAMED_STATES[("open", "hand")], **NAMED_STATES[("neutral", "wrist")]}
    for pair in colliding_pairs(model, data, joint_qpos(model, default)):
        reasons.setdefault(pair, "Default")
    touching: dict[tuple[str, str], int] = {}
    near: set[tuple[str, str]] = set()
    rng = np.random.default_rng(seed)
    for qpos in tqdm(random_qpos(model, rng, samples), desc="collision sampling", leave=False, mininterval=2.0):
        for pair, dist in contact_distances(model, data, qpos).items():
            near.add(pair)
            if dist <= 0.0:
                touching[pair] = touching.get(pair, 0) + 1
    for pair in itertools.combinations(sorted(geometric), 2):
        if touching.get(pair, 0) == samples:
            reasons.setdefault(pair, "Always")
        elif pair not in near:
            reasons.setdefault(pair, "Never")
    return reasons


def srdf_text(reasons: dict[tuple[str, str], str], samples: int, seed: int) -> str:
    lines = ['<?xml version="1.0"?>',
             f"<!-- GENERATED by scripts/generate_srdf.py (samples={samples} seed={seed}, MuJoCo "
             f"{mujoco.__version__}) for urdf/robot_cell.urdf; do not edit. -->",
             '<robot name="ur10e_shadow">',
             "  <!-- arm: the six UR10e joints (KDL IK for tool0). wrist: the hand's two wrist joints.",
             "       arm_with_wrist: base_link to rh_palm, 8 joints (IK for the palm pose of a grasp).",
             "       hand: the 22 finger and thumb joints (grasp files' joints). J1/J2 of FF/MF/RF/LF are tendon",
             "       coupled on the real hand (sum commanded); MoveIt plans them independently. -->",
             '  <group name="arm">', '    <chain base_link="base_link" tip_link="tool0"/>', "  </group>",
             '  <group name="wrist">', *[f'    <joint name="{j}"/>' for j in WRIST_JOINTS], "  </group>",
             '  <group name="arm_with_wrist">', '    <chain base_link="base_link" tip_link="rh_palm"/>', "  </group>",
             '  <group name="hand">', *[f'    <joint name="{j}"/>' for j in FINGER_JOINTS], "  </group>",
             '  <group name="arm_and_hand">', '    <group name="arm_with_wrist"/>', '    <group name="hand"/>',
             "  </group>"]
    for (state, group), values in NAMED_STATES.items():
        lines.append(f'  <group_state name="{state}" group="{group}">')
        lines += [f'    <joint name="{j}" value="{v:g}"/>' for j, v in values.items()]
        lines.append("  </group_state>")
    lines.append('  <end_effector name="shadow_hand" parent_link="rh_palm" group="hand" '
                 'parent_group="arm_with_wrist"/>')
    for (a, b), reason in sorted(reasons.items()):
        lines.append(f'  <disable_collisions link1="{a}" link2="{b}" reason="{reason}"/>')
    lines.append("</robot>")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=50000, help="random configurations (default 50000)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.samples < 1:
        parser.error("--samples must be positive")
    reasons = classify(args.samples, args.seed)
    SRDF_PATH.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(SRDF_PATH, srdf_text(reasons, args.samples, args.seed))
    counts = {r: sum(1 for v in reasons.values() if v == r) for r in ("Adjacent", "User", "Default", "Always", "Never")}
    print(f"wrote {SRDF_PATH.relative_to(ROOT)}: {len(reasons)} disabled pairs {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
