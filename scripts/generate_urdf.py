#!/usr/bin/env python3
"""Generate the robot description in ``urdf/`` from the packaged MJCF models, then expand every xacro.

Steps (all outputs are written atomically, text is deterministic):

1. ``urdf/shadow_hand.macro.xacro`` and ``urdf/ur10e.macro.xacro``: xacro macros converted from the *compiled*
   ``mujoco.MjModel`` of ``right_hand.xml`` / ``ur10e.xml``, so that link frames (= MJCF body frames), joint names,
   axes, limits, damping and inertials agree exactly with MuJoCo. Links are named after the MJCF bodies.
   Visuals: the MJCF visual meshes (``package://diffgrasp/models/<model>/assets/<file>.obj``, scale 0.001 for the hand,
   1 for the arm), placed with MuJoCo's mesh re-centring undone. Collisions: the MJCF collision geoms; a capsule
   becomes a cylinder plus two spheres (the identical shape); boxes, cylinders and spheres map one to one; mesh geoms
   reference the same OBJ (MuJoCo collides their convex hull, MoveIt the mesh itself).
2. ``urdf/<name>.urdf`` for every hand-written ``urdf/<name>.urdf.xacro``, expanded with the pip ``xacro`` package.

Usage: ``python scripts/generate_urdf.py [--check]`` (``--check``: exit 1 if any output would change, write nothing).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import warnings
from pathlib import Path

import mujoco
import numpy as np
from scipy.spatial.transform import Rotation

ROOT = Path(__file__).resolve().parents[1]
URDF_DIR = ROOT / "urdf"
MODELS = ROOT / "src" / "diffgrasp" / "diffgrasp" / "data" / "models"
EXPANDED = ("shadow_hand", "ur10e", "ur10e_shadow", "robot_cell")

HAND_VELOCITY = 2.0
"""rad/s, every hand joint (the Shadow description's value)."""
UR10E_VELOCITY = {"shoulder_pan_joint": 2.0944, "shoulder_lift_joint": 2.0944, "elbow_joint": 3.1416,
                  "wrist_1_joint": 3.1416, "wrist_2_joint": 3.1416, "wrist_3_joint": 3.1416}
"""rad/s, UR10e data sheet (120 deg/s base and shoulder, 180 deg/s elbow and wrists)."""

COUPLING_NOTE = ("{f}J1 and {f}J2 are driven by one tendon on the real hand (the sum J1 + J2 is commanded; "
                 "MJCF tendon {f}J0). They stay independent joints here; see urdf/README.md.")


def fmt(x: float) -> str:
    """Deterministic short text for a float (12 significant digits, no negative zero)."""
    x = float(x)
    if abs(x) < 1e-12:
        return "0"
    return f"{x:.12g}"


def vec(values) -> str:
    return " ".join(fmt(v) for v in values)


def rpy_from_quat(quat_wxyz: np.ndarray) -> np.ndarray:
    """URDF roll-pitch-yaw (R = Rz(y) Ry(p) Rx(r)) of a wxyz quaternion; checked by recomposition."""
    rot = Rotation.from_quat(np.asarray(quat_wxyz, dtype=float), scalar_first=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # gimbal lock: scipy picks a valid decomposition
        rpy = rot.as_euler("xyz")
    err = np.abs(Rotation.from_euler("xyz", rpy).as_matrix() - rot.as_matrix()).max()
    if err > 1e-12:
        raise RuntimeError(f"rpy decomposition error {err}")
    return rpy


def origin(pos, quat_wxyz) -> str:
    return f'<origin xyz="{vec(pos)}" rpy="{vec(rpy_from_quat(quat_wxyz))}"/>'


def compose(pos_a, quat_a, pos_b, quat_b) -> tuple[np.ndarray, np.ndarray]:
    """Pose a ∘ b (positions (3,), quaternions wxyz)."""
    pos, quat = np.zeros(3), np.zeros(4)
    mujoco.mju_mulPose(pos, quat, np.asarray(pos_a, float), np.asarray(quat_a, float),
                       np.asarray(pos_b, float), np.asarray(quat_b, float))
    return pos, quat


def inverse(pos, quat) -> tuple[np.ndarray, np.ndarray]:
    pos_i, quat_i = np.zeros(3), np.zeros(4)
    mujoco.mju_negPose(pos_i, quat_i, np.asarray(pos, float), np.asarray(quat, float))
    return pos_i, quat_i


class MjcfToXacro:
    """Converts one compiled MJCF into the body of a xacro macro (links, joints, materials)."""

    def __init__(self, mjcf: Path, package_dir: str, material_prefix: str, default_effort: float,
                 velocity: dict[str, float] | float):
        """``default_effort``: N·m for joints without a force-limited actuator; ``velocity``: rad/s, per joint name
        or one value for all joints."""
        self.model = mujoco.MjModel.from_xml_path(str(mjcf))
        self.package_dir = package_dir
        self.material_prefix = material_prefix
        self.effort = actuator_efforts(self.model, default_effort)
        names = [mujoco.mj_id2name(self.model, mujoco.mjtObj.mjOBJ_JOINT, j) for j in range(self.model.njnt)]
        self.velocity = velocity if isinstance(velocity, dict) else {name: velocity for name in names}
        missing = [name for name in names if name not in self.effort or name not in self.velocity]
        if missing:
            raise ValueError(f"{mjcf.name}: no effort or velocity limit for joints {missing}")

    def name(self, obj: mujoco.mjtObj, i: int) -> str:
        return mujoco.mj_id2name(self.model, obj, i)

    def mesh_file(self, mesh_id: int) -> str:
        adr = self.model.mesh_pathadr[mesh_id]
        raw = bytes(self.model.paths[adr:]).split(b"\0", 1)[0].decode()
        return os.path.basename(raw)

    def materials(self) -> list[str]:
        m = self.model
        out = []
        for i in range(m.nmat):
            out.append(f'<material name="{self.material_prefix}{self.name(mujoco.mjtObj.mjOBJ_MATERIAL, i)}">'
                       f'<color rgba="{vec(m.mat_rgba[i])}"/></material>')
        return out

    def geom_xml(self, g: int, visual: bool) -> list[str]:
        m = self.model
        pos, quat = m.geom_pos[g].copy(), m.geom_quat[g].copy()
        gtype, size = m.geom_type[g], m.geom_size[g]
        tag = "visual" if visual else "collision"
        mat = ""
        if visual:
            matid = m.geom_matid[g]
            mat = (f'<material name="{self.material_prefix}{self.name(mujoco.mjtObj.mjOBJ_MATERIAL, matid)}"/>'
                   if matid >= 0 else "")
        if gtype == mujoco.mjtGeom.mjGEOM_MESH:
            mesh = m.geom_dataid[g]
            # MuJoCo re-centres meshes (compiled vertices = R_m^T (scale * v - p_m)): undo it for the raw OBJ.
            pos, quat = compose(pos, quat, *inverse(m.mesh_pos[mesh], m.mesh_quat[mesh]))
            uri = f"package://diffgrasp/models/{self.package_dir}/assets/{self.mesh_file(mesh)}"
            geoms = [(pos, quat, f'<mesh filename="{uri}" scale="{vec(m.mesh_scale[mesh])}"/>')]
        elif gtype == mujoco.mjtGeom.mjGEOM_BOX:
            geoms = [(pos, quat, f'<box size="{vec(2 * size)}"/>')]
        elif gtype == mujoco.mjtGeom.mjGEOM_SPHERE:
            geoms = [(pos, quat, f'<sphere radius="{fmt(size[0])}"/>')]
        elif gtype == mujoco.mjtGeom.mjGEOM_CYLINDER:
            geoms = [(pos, quat, f'<cylinder radius="{fmt(size[0])}" length="{fmt(2 * size[1])}"/>')]
        elif gtype == mujoco.mjtGeom.mjGEOM_CAPSULE:
            geoms = [(pos, quat, f'<cylinder radius="{fmt(size[0])}" length="{fmt(2 * size[1])}"/>')]
            for sign in (1.0, -1.0):
                end, _ = compose(pos, quat, [0.0, 0.0, sign * size[1]], [1.0, 0.0, 0.0, 0.0])
                geoms.append((end, quat, f'<sphere radius="{fmt(size[0])}"/>'))
        else:
            raise ValueError(f"geom {g}: unsupported type {gtype}")
        return [f"<{tag}>{origin(p, q)}<geometry>{geo}</geometry>{mat}</{tag}>" for p, q, geo in geoms]

    def link_xml(self, b: int) -> list[str]:
        m = self.model
        lines = [f'<link name="{self.name(mujoco.mjtObj.mjOBJ_BODY, b)}">']
        inertia = m.body_inertia[b]
        lines.append(f"  <inertial>{origin(m.body_ipos[b], m.body_iquat[b])}<mass value=\"{fmt(m.body_mass[b])}\"/>"
                     f'<inertia ixx="{fmt(inertia[0])}" ixy="0" ixz="0" iyy="{fmt(inertia[1])}" iyz="0" '
                     f'izz="{fmt(inertia[2])}"/></inertial>')
        geoms = range(m.body_geomadr[b], m.body_geomadr[b] + m.body_geomnum[b])
        for g in geoms:
            if m.geom_contype[g] == 0 and m.geom_conaffinity[g] == 0 and m.geom_type[g] == mujoco.mjtGeom.mjGEOM_MESH:
                lines += ["  " + x for x in self.geom_xml(g, visual=True)]
        for g in geoms:
            if m.geom_contype[g] or m.geom_conaffinity[g]:
                lines += ["  " + x for x in self.geom_xml(g, visual=False)]
        lines.append("</link>")
        return lines

    def joint_xml(self, b: int) -> list[str]:
        m = self.model
        parent = self.name(mujoco.mjtObj.mjOBJ_BODY, m.body_parentid[b])
        child = self.name(mujoco.mjtObj.mjOBJ_BODY, b)
        if m.body_jntnum[b] != 1:
            raise ValueError(f"body {child}: expected exactly one joint, found {m.body_jntnum[b]}")
        j = m.body_jntadr[b]
        if m.jnt_type[j] != mujoco.mjtJoint.mjJNT_HINGE or np.any(m.jnt_pos[j] != 0) or not m.jnt_limited[j]:
            raise ValueError(f"joint {j}: only limited hinges at the body origin are supported")
        name = self.name(mujoco.mjtObj.mjOBJ_JOINT, j)
        lo, hi = m.jnt_range[j]
        dof = m.jnt_dofadr[j]
        lines = []
        if name[-2:] in ("J1", "J2") and name[3:5] in ("FF", "MF", "RF", "LF"):
            lines.append("<!-- " + COUPLING_NOTE.format(f=name[:5]) + " -->")
        lines += [f'<joint name="{name}" type="revolute">',
                  f'  <parent link="{parent}"/>', f'  <child link="{child}"/>',
                  f"  {origin(m.body_pos[b], m.body_quat[b])}",
                  f'  <axis xyz="{vec(m.jnt_axis[j])}"/>',
                  f'  <limit lower="{fmt(lo)}" upper="{fmt(hi)}" effort="{fmt(self.effort[name])}" '
                  f'velocity="{fmt(self.velocity[name])}"/>',
                  f'  <dynamics damping="{fmt(m.dof_damping[dof])}" friction="{fmt(m.dof_frictionloss[dof])}"/>',
                  "</joint>"]
        return lines

    def tree_xml(self, root: int) -> list[str]:
        """Links and joints of the subtree below (and including) body ``root``, depth first."""
        m = self.model
        lines = self.link_xml(root)
        for b in range(root + 1, m.nbody):
            if m.body_parentid[b] == root:
                lines += self.joint_xml(b) + self.tree_xml(b)
        return lines


def actuator_efforts(model: mujoco.MjModel, default: float) -> dict[str, float]:
    """Joint name → |force limit| of the actuator driving it (tendon actuators count for each tendon joint)."""
    out: dict[str, float] = {}
    for a in range(model.nu):
        limit = float(np.max(np.abs(model.actuator_forcerange[a]))) if model.actuator_forcelimited[a] else default
        target = model.actuator_trnid[a, 0]
        if model.actuator_trntype[a] == mujoco.mjtTrn.mjTRN_JOINT:
            out[mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_JOINT, target)] = limit
        elif model.actuator_trntype[a] == mujoco.mjtTrn.mjTRN_TENDON:
            adr, num = model.tendon_adr[target], model.tendon_num[target]
            for w in range(adr, adr + num):
                out[mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_JOINT, model.wrap_objid[w])] = limit
    return out


HEADER = ('<?xml version="1.0"?>\n'
          '<!-- GENERATED by scripts/generate_urdf.py from {src} (MuJoCo {mj}); do not edit. -->\n'
          '<robot xmlns:xacro="http://www.ros.org/wiki/xacro">\n')


def indent(lines: list[str], n: int) -> str:
    return "".join(" " * n + line + "\n" for line in lines)


def shadow_hand_macro() -> str:
    mjcf = MODELS / "shadow_hand" / "right_hand.xml"
    conv = MjcfToXacro(mjcf, "shadow_hand", "shadow_", default_effort=1.0, velocity=HAND_VELOCITY)
    m = conv.model
    root = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, "rh_forearm")
    body = conv.materials()
    body += ['<xacro:if value="${parent != \'\'}">',
             '  <joint name="rh_forearm_mount_joint" type="fixed"><parent link="${parent}"/><child link="rh_forearm"/>'
             '<origin xyz="${xyz}" rpy="${rpy}"/></joint>', "</xacro:if>"]
    body += conv.tree_xml(root)
    return (HEADER.format(src="src/diffgrasp/diffgrasp/data/models/shadow_hand/right_hand.xml", mj=mujoco.__version__)
            + "  <!-- Shadow Dexterous Hand (right), MuJoCo Menagerie, Apache-2.0. Root link rh_forearm (the MJCF's\n"
              "       rh_forearm body frame). parent: link to attach rh_forearm to ('' = none); "
              "xyz/rpy: its pose there. -->\n"
            + "  <xacro:macro name=\"shadow_hand\" params=\"parent:='' xyz:='0 0 0' rpy:='0 0 0'\">\n"
            + indent(body, 4) + "  </xacro:macro>\n</robot>\n")


def ur10e_macro() -> str:
    mjcf = MODELS / "ur10e" / "ur10e.xml"
    conv = MjcfToXacro(mjcf, "ur10e", "ur_", default_effort=330.0, velocity=UR10E_VELOCITY)
    m = conv.model
    base = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, "base")
    site = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, "attachment_site")
    wrist3 = mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_BODY, m.site_bodyid[site])
    # UR convention: tool0 z points out of the flange (= attachment_site); flange = tool0 turned so x points out.
    tool0_in_flange = Rotation.from_euler("xyz", [np.pi / 2, 0.0, np.pi / 2]).as_quat(scalar_first=True)
    flange_pos, flange_quat = compose(m.site_pos[site], m.site_quat[site], *inverse(np.zeros(3), tool0_in_flange))
    body = conv.materials()
    body += ['<link name="base_link"/>',
             '<xacro:if value="${parent != \'\'}">',
             '  <joint name="base_link_mount_joint" type="fixed"><parent link="${parent}"/><child link="base_link"/>'
             '<origin xyz="${xyz}" rpy="${rpy}"/></joint>', "</xacro:if>",
             "<!-- base_link = the MJCF world frame the arm is placed in; base = MJCF body 'base' (turned by pi). -->",
             '<joint name="base_link-base_fixed_joint" type="fixed"><parent link="base_link"/><child link="base"/>'
             f"{origin(m.body_pos[base], m.body_quat[base])}</joint>"]
    body += conv.tree_xml(base)
    body += ["<!-- flange and tool0 (ROS-Industrial convention): tool0 = MJCF site attachment_site "
             "(z out of the flange);",
             "     flange x points out of the flange. -->",
             f'<link name="flange"/><joint name="wrist_3-flange" type="fixed"><parent link="{wrist3}"/>'
             f'<child link="flange"/>{origin(flange_pos, flange_quat)}</joint>',
             '<link name="tool0"/><joint name="flange-tool0" type="fixed"><parent link="flange"/><child link="tool0"/>'
             f"{origin(np.zeros(3), tool0_in_flange)}</joint>"]
    return (HEADER.format(src="src/diffgrasp/diffgrasp/data/models/ur10e/ur10e.xml", mj=mujoco.__version__)
            + "  <!-- Universal Robots UR10e, MuJoCo Menagerie / ROS-Industrial, BSD-3-Clause. Root link base_link.\n"
              "       parent: link to attach base_link to ('' = none); xyz/rpy: its pose there. -->\n"
            + "  <xacro:macro name=\"ur10e\" params=\"parent:='' xyz:='0 0 0' rpy:='0 0 0'\">\n"
            + indent(body, 4) + "  </xacro:macro>\n</robot>\n")


def expand(xacro_file: Path) -> str:
    """Expanded URDF text of ``xacro_file`` (pip xacro, no ROS needed: our xacros avoid $(find))."""
    import xacro

    doc = xacro.process_file(str(xacro_file))
    text = doc.toprettyxml(indent="  ")
    # Drop xacro's banner: it names the absolute source path, which would make the text checkout dependent.
    text = "\n".join(line for line in text.split("\n")
                     if not re.match(r"\s*<!-- (=+|\|.*\|) -->$", line))
    head, body = text.split("\n", 1)
    return (f"{head}\n<!-- GENERATED by scripts/generate_urdf.py: xacro expansion of urdf/{xacro_file.name} "
            "with default arguments; do not edit. -->\n" + body)


def write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def generate(check: bool = False) -> list[Path]:
    """Write (or, with ``check``, only compare) all outputs; returns the paths whose text changed."""
    changed = []
    macros = {URDF_DIR / "shadow_hand.macro.xacro": shadow_hand_macro(), URDF_DIR / "ur10e.macro.xacro": ur10e_macro()}

    def emit(path: Path, text: str) -> None:
        if not path.exists() or path.read_text() != text:
            changed.append(path)
            if not check:
                write_atomic(path, text)

    for path, text in macros.items():
        emit(path, text)
    if check and changed:
        return changed  # expansions depend on the macros: they would differ too
    for name in EXPANDED:
        emit(URDF_DIR / f"{name}.urdf", expand(URDF_DIR / f"{name}.urdf.xacro"))
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if any generated file is out of date")
    args = parser.parse_args(argv)
    changed = generate(check=args.check)
    for path in changed:
        print(("out of date: " if args.check else "wrote ") + str(path.relative_to(ROOT)))
    if not changed:
        print("urdf/: up to date")
    return 1 if (args.check and changed) else 0


if __name__ == "__main__":
    sys.exit(main())
