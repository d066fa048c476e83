"""MuJoCo scene of the physics test (design notes §7): a floating Shadow hand and a free object.

The hand is ``right_hand.xml`` without forearm and wrist: the ``rh_palm`` body is the root, on a free joint
(``hand_root``), held by a weld equality to the mocap body ``hand_mocap``. The object is the free body ``object``
(free joint ``object_root``) made of convex pieces of its mesh; it starts at the identity pose, so the world frame of
the scene IS the object mesh frame and grasp palm poses are used unchanged.

Actuation (documented choice): the model's position actuators are kept, less the two wrist ones, i.e. 18 actuators:
thumb J5..J1 (5), FF/MF/RF J4, J3 and the coupling tendon J0 (3 each), LF J5, J4, J3, J0 (4). A tendon actuator's
target is the SUM J1 + J2 of the planned joint values (the tendon length is J1 + J2, as on the real hand and as in
DexGraspBench); the split between J1 and J2 is then decided by the dynamics and the contacts. Every actuator gets
kp = 5 (N·m/rad), force range ±3, no control-range limit (squeeze targets may pass the joint limits).
``SceneIndex.ctrl_matrix`` (18, 22) maps the 22 canonical finger joints to the controls: ctrl = M @ q22.

Contacts: MuJoCo already ignores parent–child body pairs; the model excludes rh_thproximal–rh_thmiddle; we add the pairs
in ``DESIGN_CONTACT_EXCLUDES`` where links overlap by construction near the palm. Every colliding geom (hand and
object) gets friction (μ, torsional, 1e-4), condim 4, solimp (0.5, 0.99, 1e-4) and solref (0.005, 1) — the hand
model's stiff "plastic" contact, applied to all geoms as DexGraspBench does; no-slip iterations 2; native CCD (the
MuJoCo ≥ 3.3 default). The object's inertial is explicit: mass ``object_mass`` with the mesh's uniform-density COM and
inertia.
"""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from pathlib import Path

import mujoco
import numpy as np
import trimesh

from diffgrasp.data import shadow_hand_mjcf
from diffgrasp.hand.names import FINGER_JOINT_NAMES
from diffgrasp.sim.physics_test.evaluate_config import EvaluateConfig
from diffgrasp.sim.physics_test.scene_params import SceneParams

HAND_ROOT_BODY = "rh_palm"
HAND_FREE_JOINT = "hand_root"
HAND_MOCAP_BODY = "hand_mocap"
OBJECT_BODY = "object"
OBJECT_FREE_JOINT = "object_root"
_DROPPED_MESHES = ("forearm_0", "forearm_1", "forearm_collision", "wrist")
_DROPPED_ACTUATORS = ("rh_A_WRJ2", "rh_A_WRJ1")

# Body pairs whose collision geoms overlap by design: at full proximal flexion (J3 = 1.57) the proximal capsule
# meets the palm block between the knuckles (≈1 mm) and the little finger's proximal meets its metacarpal; cupping the
# palm (LFJ5) moves the little knuckle into the palm block. Found by sweeping every joint over its range and by 300
# random in-limit configurations (the neutral hand has no hand–hand contact). Finger–finger contacts from abduction
# stay enabled: they are real collisions.
DESIGN_CONTACT_EXCLUDES: tuple[tuple[str, str], ...] = (
    ("rh_palm", "rh_ffproximal"), ("rh_palm", "rh_mfproximal"), ("rh_palm", "rh_rfproximal"),
    ("rh_palm", "rh_lfknuckle"), ("rh_lfmetacarpal", "rh_lfproximal"),
)


def default_scene_params() -> SceneParams:
    """The §7 scene settings of the default EvaluateConfig."""
    return EvaluateConfig().scene_params()


@dataclasses.dataclass(frozen=True)
class SceneIndex:
    """Addresses into a compiled scene model."""

    hand_qpos: int                # qpos address of the hand free joint (7 numbers: pos, quat wxyz)
    object_qpos: int              # qpos address of the object free joint
    finger_qpos: np.ndarray       # (22,) qpos addresses of the canonical finger joints
    object_body: int
    hand_bodies: np.ndarray       # (L,) body ids of the hand
    mocap: int                    # mocap index of the hand's mocap body
    ctrl_matrix: np.ndarray       # (nu, 22): ctrl = ctrl_matrix @ q22
    object_geoms: np.ndarray      # (G,) collision geom ids of the object
    object_com: np.ndarray        # (3,) object centre of mass in the object frame, m


def _hand_xml() -> str:
    """right_hand.xml rewritten so that rh_palm is a root body on a free joint (forearm, wrist removed)."""
    path = shadow_hand_mjcf()
    root = ET.parse(path).getroot()
    compiler = root.find("compiler")
    compiler.set("meshdir", str((path.parent / compiler.get("meshdir", ".")).resolve()))
    for option in root.findall("option"):
        root.remove(option)
    asset = root.find("asset")
    for mesh in list(asset.findall("mesh")):
        if Path(mesh.get("file", "")).stem in _DROPPED_MESHES:
            asset.remove(mesh)
    worldbody = root.find("worldbody")
    forearm = worldbody.find("body[@name='rh_forearm']")
    palm = forearm.find("body[@name='rh_wrist']/body[@name='rh_palm']")
    worldbody.remove(forearm)
    palm.attrib.pop("pos", None)
    palm.set("childclass", forearm.get("childclass", "right_hand"))
    for joint in palm.findall("joint"):
        palm.remove(joint)
    palm.insert(0, ET.Element("freejoint", {"name": HAND_FREE_JOINT}))
    worldbody.append(palm)
    contact = root.find("contact")
    for ex in list(contact):
        if {ex.get("body1"), ex.get("body2")} & {"rh_wrist", "rh_forearm"}:
            contact.remove(ex)
    for a, b in DESIGN_CONTACT_EXCLUDES:
        contact.append(ET.Element("exclude", {"body1": a, "body2": b}))
    actuator = root.find("actuator")
    for act in list(actuator):
        if act.get("name") in _DROPPED_ACTUATORS:
            actuator.remove(act)
    return ET.tostring(root, encoding="unicode")


def object_inertia(mesh_vertices: np.ndarray, mesh_faces: np.ndarray, mass: float) -> tuple[np.ndarray, np.ndarray]:
    """Centre of mass (3,) and full inertia (6,) = (ixx, iyy, izz, ixy, ixz, iyz) about it, for ``mass`` kg uniform.

    Uses the watertight mesh when it has a positive volume, otherwise its convex hull.
    """
    mesh = trimesh.Trimesh(mesh_vertices, mesh_faces, process=False)
    if not (mesh.is_watertight and mesh.volume > 1e-12):
        mesh = mesh.convex_hull
    mesh.density = mass / mesh.volume
    inertia = mesh.moment_inertia  # about the centre of mass, object axes
    full = np.array([inertia[0, 0], inertia[1, 1], inertia[2, 2], inertia[0, 1], inertia[0, 2], inertia[1, 2]])
    return np.asarray(mesh.center_mass, dtype=float), full


def build_scene_spec(pieces: list[tuple[np.ndarray, np.ndarray]], com: np.ndarray, inertia: np.ndarray,
                     params: SceneParams | None = None,
                     visual_mesh: tuple[np.ndarray, np.ndarray] | None = None) -> mujoco.MjSpec:
    """MjSpec of hand + object. pieces: convex parts (vertices (V, 3) m, faces (F, 3)) in the object frame.

    com (3,) m and inertia (6,) kg·m² give the object's explicit inertial (mass ``params.object_mass``).
    visual_mesh: optional full mesh added as a non-colliding geom (group 2) for rendering.
    """
    params = params or default_scene_params()
    spec = mujoco.MjSpec.from_string(_hand_xml())
    opt = spec.option
    opt.timestep = params.timestep
    opt.impratio = params.impratio
    opt.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    opt.cone = mujoco.mjtCone.mjCONE_ELLIPTIC
    opt.noslip_iterations = params.noslip_iterations
    opt.disableflags |= int(mujoco.mjtDisableBit.mjDSBL_GRAVITY)
    # native CCD (DexGraspBench enables it) is the default in mujoco >= 3.3; nothing to set

    spec.worldbody.add_body(name=HAND_MOCAP_BODY, mocap=True)
    weld = spec.add_equality(type=mujoco.mjtEq.mjEQ_WELD, name1=HAND_MOCAP_BODY, name2=HAND_ROOT_BODY,
                             objtype=mujoco.mjtObj.mjOBJ_BODY)
    data = np.array(weld.data, dtype=float)   # anchor (3), relative pos (3), relative quat wxyz (4), torque scale, ...
    data[0:10] = [0, 0, 0, 0, 0, 0, 1, 0, 0, 0]  # palm frame == mocap frame
    weld.data = data

    body = spec.worldbody.add_body(name=OBJECT_BODY)
    body.add_freejoint(name=OBJECT_FREE_JOINT)
    body.explicitinertial = True
    body.mass = params.object_mass
    body.ipos = np.asarray(com, dtype=float)
    body.fullinertia = np.asarray(inertia, dtype=float)
    for i, (v, f) in enumerate(pieces):
        spec.add_mesh(name=f"object_piece_{i}", uservert=np.asarray(v, float).ravel().tolist(),
                      userface=np.asarray(f, np.int32).ravel().tolist())
        body.add_geom(name=f"object_collision_{i}", type=mujoco.mjtGeom.mjGEOM_MESH, meshname=f"object_piece_{i}",
                      group=3, rgba=[0.8, 0.5, 0.3, 1.0])
    if visual_mesh is not None:
        v, f = visual_mesh
        spec.add_mesh(name="object_visual", uservert=np.asarray(v, float).ravel().tolist(),
                      userface=np.asarray(f, np.int32).ravel().tolist())
        body.add_geom(name="object_visual", type=mujoco.mjtGeom.mjGEOM_MESH, meshname="object_visual",
                      contype=0, conaffinity=0, group=2, rgba=[0.85, 0.55, 0.3, 1.0])

    for geom in spec.geoms:
        if geom.contype == 0 and geom.conaffinity == 0:
            continue
        geom.friction = [params.friction, params.torsional_friction, 0.0001]
        geom.condim = 4
        geom.solimp = [0.5, 0.99, 0.0001, 0.5, 2.0]
        geom.solref = [0.005, 1.0]
        geom.margin = 0.0
        geom.gap = 0.0
    for act in spec.actuators:
        act.gainprm = [params.kp] + [0.0] * 9
        act.biasprm = [0.0, -params.kp, 0.0] + [0.0] * 7
        act.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
        act.forcerange = [-params.force_limit, params.force_limit]
        act.ctrllimited = mujoco.mjtLimited.mjLIMITED_FALSE
    return spec


def scene_index(model: mujoco.MjModel, com: np.ndarray) -> SceneIndex:
    """Addresses of the hand, object and controls in a compiled scene."""
    hand_root = model.body(HAND_ROOT_BODY).id
    hand_bodies = np.array([b for b in range(model.nbody) if b == hand_root or _has_ancestor(model, b, hand_root)])
    obj = model.body(OBJECT_BODY).id
    finger_qpos = np.array([model.jnt_qposadr[model.joint(n).id] for n in FINGER_JOINT_NAMES])
    finger_dof = np.array([model.jnt_dofadr[model.joint(n).id] for n in FINGER_JOINT_NAMES])
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    moment = np.zeros((model.nu, model.nv))
    mujoco.mju_sparse2dense(moment, data.actuator_moment, data.moment_rownnz, data.moment_rowadr, data.moment_colind)
    ctrl_matrix = moment[:, finger_dof]  # joint actuators: one 1; tendon actuators: 1 on J1 and J2
    geoms = np.array([g for g in range(model.ngeom) if model.geom_bodyid[g] == obj and model.geom_contype[g] != 0])
    return SceneIndex(
        hand_qpos=int(model.jnt_qposadr[model.joint(HAND_FREE_JOINT).id]),
        object_qpos=int(model.jnt_qposadr[model.joint(OBJECT_FREE_JOINT).id]),
        finger_qpos=finger_qpos, object_body=obj, hand_bodies=hand_bodies,
        mocap=int(model.body_mocapid[model.body(HAND_MOCAP_BODY).id]), ctrl_matrix=ctrl_matrix,
        object_geoms=geoms, object_com=np.asarray(com, dtype=float),
    )


def _has_ancestor(model: mujoco.MjModel, body: int, ancestor: int) -> bool:
    while body > 0:
        body = int(model.body_parentid[body])
        if body == ancestor:
            return True
    return False


def build_scene(pieces: list[tuple[np.ndarray, np.ndarray]], com: np.ndarray, inertia: np.ndarray,
                params: SceneParams | None = None,
                visual_mesh: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[mujoco.MjModel, SceneIndex]:
    """Compile the scene; returns (model, index)."""
    model = build_scene_spec(pieces, com, inertia, params, visual_mesh).compile()
    return model, scene_index(model, com)


__all__ = ["DESIGN_CONTACT_EXCLUDES", "SceneIndex", "SceneParams", "build_scene", "build_scene_spec",
           "object_inertia"]
