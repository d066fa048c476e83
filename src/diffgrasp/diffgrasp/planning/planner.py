"""``plan_grasps``: K ranked, diverse grasps for a watertight mesh (design notes §6, Refinement).

Pipeline: initial candidates (around the convex hull, or the network's predictions and jittered copies of them, or
given grasps) → batched refinement on ``GraspLoss`` (or the DexGraspNet-style baseline energy) → closing onto the
surface, pregrasp/squeeze → rejection (penetration, self-collision, too few touching fingers) → ranking by the
physics rollouts, then exact Q1 → (too few holding: refine jittered copies of the holding ones and rank again) →
de-duplication → verification of the best (up to 2k) with longer pushes, the k moving least first. Everything is in
the object file's own frame. Deterministic for a seed on CPU.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable

import numpy as np
import torch

from diffgrasp.geometry import ObjectModel
from diffgrasp.geometry.rotations import matrix_to_quaternion_xyzw, quaternion_xyzw_to_matrix
from diffgrasp.grasps import Grasp
from diffgrasp.hand import JointCoupling, ShadowHand
from diffgrasp.hand.names import FINGER_JOINT_NAMES
from diffgrasp.planning.canonical_frame import canonical_transform
from diffgrasp.planning.fast_object import GridObject, SurfaceSubsetHand
from diffgrasp.planning.initialization import initial_candidates, jittered_copies
from diffgrasp.planning.plan_result import PlanResult, ProgressInfo
from diffgrasp.planning.planner_config import PlannerConfig
from diffgrasp.planning.postprocess import GraspPostprocessor, select_diverse
from diffgrasp.planning.refiner import refine

CONTACT_METRIC_DISTANCE_M = 0.002  # candidates within this of the surface count as contacts (as the physics test)
RANKING_DISTANCES_M = (CONTACT_METRIC_DISTANCE_M, 0.003, 0.005)  # contact distances of the ranking's Q1 keys


def _as_object(obj: ObjectModel | str | os.PathLike) -> ObjectModel:
    return obj if isinstance(obj, ObjectModel) else ObjectModel.from_file(obj)


def _grasps_to_tensors(grasps: list[Grasp], coupling: JointCoupling, dtype: torch.dtype, device: torch.device,
                       transform: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Grasps (object file frame) → palm position (B, 3), rotation (B, 3, 3) in the frame ``transform`` maps to, u."""
    pos = np.array([g.palm_position for g in grasps]) @ transform[:3, :3].T + transform[:3, 3]
    quat = torch.tensor(np.array([g.palm_quaternion_xyzw for g in grasps]), dtype=torch.float64)
    rot = torch.as_tensor(transform[:3, :3]) @ quaternion_xyzw_to_matrix(quat)
    q22 = torch.tensor(np.array([g.joint_vector() for g in grasps]), dtype=dtype, device=device)
    return (torch.as_tensor(pos, dtype=dtype, device=device), rot.to(device, dtype), coupling.reduce(q22))


def plan_grasps(obj: ObjectModel | str | os.PathLike, k: int = 16, seed: int = 0,
                config: PlannerConfig | None = None, device: str | torch.device = "cpu",
                progress: Callable[[ProgressInfo], None] | None = None,
                should_cancel: Callable[[], bool] | None = None,
                initial_grasps: list[Grasp] | None = None) -> PlanResult:
    """Plan ``k`` grasps for ``obj`` (an ObjectModel or a mesh path, metres, object frame).

    progress: called with ProgressInfo every ``optim.feedback_every`` iterations. should_cancel: polled between
    iterations; when it returns True the best grasps so far are post-processed and returned with status "cancelled".
    The time budget (``config.time_budget_s``) ends refinement early the same way (status "time_budget").
    """
    config = config or PlannerConfig()
    if k < 1:
        raise ValueError(f"k: must be >= 1, got {k}")
    threads = torch.get_num_threads()
    if config.torch_threads and torch.device(device).type == "cpu":
        torch.set_num_threads(config.torch_threads)
    try:
        return _plan(obj, k, seed, config, device, progress, should_cancel, initial_grasps)
    finally:
        torch.set_num_threads(threads)


def _plan(obj, k: int, seed: int, config: PlannerConfig, device, progress, should_cancel,
          initial_grasps) -> PlanResult:
    start = time.perf_counter()
    deadline = start + config.time_budget_s * 0.85 if config.time_budget_s else None
    timings: dict[str, float] = {}
    obj = _as_object(obj)
    file_object = obj  # the physics ranking simulates the mesh as given (shares the physics test's CoACD cache)
    # Plan in a frame defined by the mesh itself (same result for a moved copy), map the grasps back at the end.
    to_canonical = canonical_transform(obj.mesh)
    plane = _plane_in_frame(config.support_plane, to_canonical)
    obj = ObjectModel(obj.mesh.copy().apply_transform(to_canonical), name=obj.name, source=obj.source)
    device = torch.device(device)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    hand = ShadowHand(device=device, dtype=torch.float32)
    coupling = JointCoupling(config.coupling_ratio)
    u_limits = coupling.limits(device, torch.float32)

    # The network method keeps the network's grasps: all G of them, plus jittered copies if k > G.
    n = max(config.min_candidates, k * config.candidates_per_grasp) if config.method != "network" else k
    t0 = time.perf_counter()
    pos, rot, u = _initial(obj, n, hand, coupling, config, rng, initial_grasps, to_canonical, plane)
    n = pos.shape[0]
    timings["init"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    grid = GridObject(obj, config.sdf_voxel_m)  # one grid per plan: refinement and closing share it
    timings["sdf_grid"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    if config.method == "network":
        from diffgrasp.planning.refiner import RefineOutcome, RefineState
        zeros = torch.zeros(pos.shape[0], device=device)
        outcome = RefineOutcome(RefineState(pos, rot, u, zeros, {}), 0, "succeeded")
    elif config.method == "dexgraspnet":
        from diffgrasp.planning.dexgraspnet import refine_dexgraspnet
        outcome = refine_dexgraspnet(hand, grid, coupling, pos, rot, u, config, rng, progress, should_cancel,
                                     deadline, start)
    else:
        energy = _diffgrasp_energy(hand, obj, grid, coupling, config, plane)
        outcome = refine(pos, rot, u, energy, u_limits, config.optim, progress, should_cancel, deadline, start)
    timings["refine"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    to_file = np.linalg.inv(to_canonical)
    ranked, rejected = _postprocess(hand, obj, grid, coupling, outcome.state, config, to_file, plane, file_object,
                                    timings)
    timings["postprocess"] = time.perf_counter() - t0
    if config.method == "diffgrasp" and outcome.status == "succeeded":
        t0 = time.perf_counter()
        ranked, added, rejected = _reseed(ranked, rejected, k, hand, obj, grid, coupling, energy, u_limits, config,
                                          to_file, plane, file_object, rng, progress, should_cancel, deadline, start,
                                          timings)
        n += added
        if added:
            timings["reseed"] = time.perf_counter() - t0
    picked = ranked.pick(k, config.post)
    stopped = ((should_cancel is not None and should_cancel())
               or (deadline is not None and time.perf_counter() > deadline))
    if config.physics_rank.enabled and config.physics_rank.verify_per_grasp > 0 and not stopped:
        t0 = time.perf_counter()
        picked = _verified_pick(ranked, k, config, file_object)
        timings["verify"] = time.perf_counter() - t0
    grasps = [ranked.grasps[i] for i in picked]
    timings["total"] = time.perf_counter() - start
    state = outcome.state
    best = int(state.loss.argmin()) if state.loss.numel() else 0
    if progress is not None:
        progress(ProgressInfo("postprocess", outcome.iterations, config.optim.iterations,
                              float(state.loss[best]), {kk: float(v[best]) for kk, v in state.terms.items()},
                              timings["total"]))
    return PlanResult(grasps=grasps, status=outcome.status, iterations=outcome.iterations,
                      best_loss=float(state.loss[best]), loss_terms={kk: float(v[best]) for kk, v in state.terms.items()},
                      num_candidates=n, num_rejected=rejected, timings_s=timings)


def _reseed(ranked: RankedCandidates, rejected: dict[str, int], k: int, hand: ShadowHand, obj: ObjectModel,
            grid: GridObject, coupling: JointCoupling, energy, u_limits: tuple[torch.Tensor, torch.Tensor],
            config: PlannerConfig, to_file: np.ndarray, plane: np.ndarray | None, file_object: ObjectModel,
            rng: np.random.Generator, progress, should_cancel, deadline: float | None, start: float,
            timings: dict[str, float]) -> tuple[RankedCandidates, int, dict[str, int]]:
    """Rounds of ``config.reseed``: while fewer than k distinct grasps hold in the physics ranking (score below
    ``good_score``) but some do, refine jittered copies of the holding ones (on the first round's ``energy``,
    reduced joints within ``u_limits``) and rank all rounds together.

    Returns the merged ranking, the number of candidates added and the summed rejection counts. A round stops the
    loop early when cancelled or past the deadline (its candidates are dropped: the earlier rounds are the best so
    far)."""
    rs = config.reseed
    if not config.physics_rank.enabled or rs.rounds == 0:
        return ranked, 0, rejected
    optim = dataclasses.replace(config.optim, iterations=rs.iterations)
    added = 0
    for _ in range(rs.rounds):
        picked = ranked.pick(k, config.post)
        good = [i for i in picked if ranked.score[i] < rs.good_score]
        if not good or len(good) >= k:
            break
        if (should_cancel is not None and should_cancel()) or (deadline is not None and time.perf_counter() > deadline):
            break
        if progress is not None:  # a stage change: the refinement's counters stay full, the loss is the best kept
            best_loss = min((g.metrics["loss"] for g in ranked.grasps), default=float("nan"))
            progress(ProgressInfo("reseed", config.optim.iterations, config.optim.iterations, best_loss, {},
                                  time.perf_counter() - start))
        as_t = lambda a: torch.as_tensor(a, dtype=hand.dtype, device=hand.device)  # noqa: E731
        seeds = (as_t(ranked.position[good]), as_t(ranked.rotation[good]), coupling.reduce(as_t(ranked.q22[good])))
        count = min(rs.candidates, rs.per_missing * (k - len(good))) if rs.per_missing else rs.candidates
        pos, rot, u = jittered_copies(*seeds, count, rs.jitter_position_m, rs.jitter_rotation_rad,
                                      rs.jitter_joints_rad, u_limits, rng)
        outcome = refine(pos, rot, u, energy, u_limits, optim, None, should_cancel, deadline, start)
        if outcome.status != "succeeded":
            break
        round_timings: dict[str, float] = {}
        more, more_rejected = _postprocess(hand, obj, grid, coupling, outcome.state, config, to_file, plane,
                                           file_object, round_timings)
        for key in ("physics_rank", "decomposition"):
            if key in round_timings:
                timings[key] = timings.get(key, 0.0) + round_timings[key]
        ranked = ranked.merged(more, rs.good_score)
        rejected = {key: rejected[key] + more_rejected[key] for key in rejected}
        added += count
    return ranked, added, rejected


def _verified_pick(ranked: RankedCandidates, k: int, config: PlannerConfig, file_object: ObjectModel) -> list[int]:
    """Indices of the k grasps to return, least moving under pushes of ``verify_push_s`` first (ties: the ranking's
    order). The best distinct physics-ranked candidates are re-simulated in ranking order: the first k, then twice
    as many as are still missing to k holding grasps (score below ``verify_holding_score``), and so on, at most
    ceil(verify_per_grasp · k) in all. Each verified grasp gets metrics ``push_displacement_m`` and
    ``push_rotation_deg``."""
    from diffgrasp.planning.physics_rank import settle_simulator, verification_motion

    rank = config.physics_rank
    picked = ranked.pick(math.ceil(rank.verify_per_grasp * k), config.post)
    pool = [i for i in picked if np.isfinite(ranked.score[i])]  # the rest never passed the physics ranking's checks
    rest = [i for i in picked if not np.isfinite(ranked.score[i])]
    if not pool:
        return picked[:k]
    sim, _ = settle_simulator(file_object.mesh, file_object.name or "object", rank)
    verified: list[int] = []
    scores = np.zeros(0)
    batch = pool[:k]
    while batch:
        motion = verification_motion([ranked.grasps[i] for i in batch], sim, rank)
        for i, d, r in zip(batch, motion.displacement_m, motion.rotation_deg, strict=True):
            ranked.grasps[i].metrics.update(push_displacement_m=float(d), push_rotation_deg=float(r))
        verified += batch
        scores = np.concatenate([scores, motion.score(rank)])
        missing = k - int((scores < rank.verify_holding_score).sum())
        batch = pool[len(verified):len(verified) + 2 * missing] if missing > 0 else []
    order = np.argsort(scores, kind="stable")
    return ([verified[j] for j in order] + rest)[:k]


def _initial(obj: ObjectModel, n: int, hand: ShadowHand, coupling: JointCoupling, config: PlannerConfig,
             rng: np.random.Generator, initial_grasps: list[Grasp] | None, to_canonical: np.ndarray,
             plane: np.ndarray | None = None):
    parts = []
    if initial_grasps:
        parts.append(_grasps_to_tensors(initial_grasps, coupling, hand.dtype, hand.device, to_canonical))
    elif (config.init == "network" and config.method == "diffgrasp") or config.method == "network":
        # (the DexGraspNet-style baseline keeps its own random initialisation)
        share = 1.0 if config.method == "network" else config.init_config.network_share
        p, r, u = _network_candidates(obj, round(n * share), hand, coupling, config, rng,
                                      all_predictions=config.method == "network")
        if plane is not None and config.method != "network":  # as for random starts: none from below the table
            keep = _clear_of_plane(hand, p, r, plane).nonzero()[:, 0]
            p, r, u = p[keep], r[keep], u[keep]
        parts.append((p, r, u))
    have = sum(p[0].shape[0] for p in parts)
    if have < n and config.method != "network":
        want = n - have
        # With a support plane, approach only from its free side: draw more, keep palms facing down or sideways.
        draw = want if plane is None else 4 * want
        p, r, u = initial_candidates(obj.mesh, draw, coupling, config.init_config, rng, hand.dtype, hand.device)
        if plane is not None:
            clear = _clear_of_plane(hand, p, r, plane)
            keep = torch.cat([clear.nonzero()[:, 0], (~clear).nonzero()[:, 0]])[:want]  # pad if too few
            p, r, u = p[keep], r[keep], u[keep]
        parts.append((p, r, u))
    return tuple(torch.cat([p[i] for p in parts]) for i in range(3))


def _clear_of_plane(hand: ShadowHand, position: torch.Tensor, rotation: torch.Tensor, plane: np.ndarray
                    ) -> torch.Tensor:
    """(B,) bool: the palm approaches from the plane's free side (its +y no more than ~12° below the plane) and the
    forearm housing starts above the plane (a table)."""
    up = torch.as_tensor(plane[:3], dtype=rotation.dtype, device=rotation.device)
    forearm = hand.forearm_hull_points(position, rotation) @ up + float(plane[3])
    return (rotation[:, :, 1] @ up > -0.2) & (forearm.amin(1) > 0)


def _network_candidates(obj: ObjectModel, n: int, hand: ShadowHand, coupling: JointCoupling,
                        config: PlannerConfig, rng: np.random.Generator, all_predictions: bool = False
                        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """n candidates (max(n, G) with ``all_predictions``) from the network's G grasps (canonical frame in and out).

    The first min(n, G) are the predictions themselves; further ones cycle through the predictions with the jitter
    of ``config.init_config`` (palm position, palm rotation, reduced joints), drawn from ``rng``.
    """
    from diffgrasp.network import CheckpointError, predict_grasps

    try:
        predicted = predict_grasps(obj.mesh, checkpoint=config.network_checkpoint, device=str(hand.device))
    except CheckpointError as err:
        raise CheckpointError(f"planner.network_checkpoint: {err}") from None
    pos, rot, u = _grasps_to_tensors(predicted, coupling, hand.dtype, hand.device, np.eye(4))
    g = pos.shape[0]
    n = max(n, g) if all_predictions else n
    if n <= g:
        return pos[:n], rot[:n], u[:n]
    ic = config.init_config
    copies = jittered_copies(pos, rot, u, n - g, ic.network_jitter_position_m, ic.network_jitter_rotation_rad,
                             ic.network_jitter_joints_rad, coupling.limits(pos.device, pos.dtype), rng)
    return tuple(torch.cat([a, b]) for a, b in zip((pos, rot, u), copies, strict=True))


def _plane_in_frame(plane, transform: np.ndarray) -> np.ndarray | None:
    """Plane (a, b, c, d) in the file frame → the same plane in the frame ``transform`` (4, 4) maps to."""
    if plane is None:
        return None
    plane = np.asarray(plane, dtype=float)
    if plane.shape != (4,) or not np.isfinite(plane).all() or abs(np.linalg.norm(plane[:3]) - 1) > 1e-3:
        raise ValueError(f"support_plane: expected (a, b, c, d) with a unit normal, got {plane.tolist()}")
    n = transform[:3, :3] @ plane[:3]
    return np.array([*n, plane[3] - n @ transform[:3, 3]])


def _diffgrasp_energy(hand: ShadowHand, obj: ObjectModel, grid: GridObject, coupling: JointCoupling,
                      config: PlannerConfig, plane: np.ndarray | None = None):
    from diffgrasp.losses import GraspLoss, LossConfig, support_plane_violation

    loss_cfg = dataclasses.replace(LossConfig(), **config.loss)
    # The grid answers the many skin samples; the ~45 contact candidates (Q1, closeness) use the exact distance
    # unless grid_contacts (the exact BVH query was a third of an iteration's time).
    grasp_loss = GraspLoss(SurfaceSubsetHand(hand, config.surface_stride), grid if config.grid_contacts else obj,
                           loss_cfg, surface_distance=grid.grid)

    skin = SurfaceSubsetHand(hand, config.surface_stride)
    plane_t = None if plane is None else torch.as_tensor(plane, dtype=hand.dtype, device=hand.device)

    def energy(position: torch.Tensor, rotation: torch.Tensor, u: torch.Tensor):
        # Candidates are independent: evaluating them in chunks keeps every tensor cache-sized (on the 2-core box a
        # batch of 128 cost 4.8 ms per candidate and iteration in one piece, 2.9 ms in chunks of 64).
        chunk = config.refine_chunk
        if not chunk or position.shape[0] <= chunk:
            return energy_chunk(position, rotation, u)
        parts = [energy_chunk(p, r, v) for p, r, v in zip(position.split(chunk), rotation.split(chunk), u.split(chunk))]
        return (torch.cat([t for t, _ in parts]),
                {key: torch.cat([terms[key] for _, terms in parts]) for key in parts[0][1]})

    def energy_chunk(position: torch.Tensor, rotation: torch.Tensor, u: torch.Tensor):
        q22 = coupling.expand(u)
        out = grasp_loss(position, rotation, q22)
        if plane_t is None:
            return out.total, out.terms
        # The skin and the forearm's bulky housing (its hull's vertices): the housing is what meets a table first.
        points = torch.cat([skin.surface_points(position, rotation, q22), hand.forearm_hull_points(position, rotation)],
                           dim=1)
        support = support_plane_violation(points, plane_t, config.support_margin_m)
        return out.total + config.w_support * support, {**out.terms, "support_plane": support}

    return energy


@dataclasses.dataclass
class RankedCandidates:
    """Post-processed candidates, best first: grasps (object file frame) and, per grasp, the physics score
    (N,) (lower is better; inf without the physics ranking) and the closed hand in the planning frame: palm position
    (N, 3) m, rotation (N, 3, 3), joints (N, 22) rad."""

    grasps: list[Grasp]
    score: np.ndarray
    position: np.ndarray
    rotation: np.ndarray
    q22: np.ndarray

    def merged(self, other: RankedCandidates, good_score: float) -> RankedCandidates:
        """Both sets in one ranking: ``self``'s grasps scoring below ``good_score`` first, then ``other``'s, then the
        rest by score (a later round fills the places of grasps that do not hold; it never displaces one that does:
        copies of a seed that only seemed to hold would otherwise crowd out the others)."""
        score = np.concatenate([self.score, other.score])
        later = np.arange(len(score)) >= len(self.score)
        bad = score >= good_score
        order = np.lexsort((score, later & ~bad, bad))
        grasps = self.grasps + other.grasps
        cat = lambda a, b: np.concatenate([a, b])[order]  # noqa: E731
        return RankedCandidates([grasps[i] for i in order], score[order],
                                cat(self.position, other.position), cat(self.rotation, other.rotation),
                                cat(self.q22, other.q22))

    def pick(self, k: int, post) -> list[int]:
        """Indices of the k best distinct grasps (``select_diverse`` with PostprocessConfig ``post``)."""
        return select_diverse(np.arange(len(self.grasps)), self.position, self.rotation, self.q22, k, post)


def _postprocess(hand: ShadowHand, obj: ObjectModel, grid: GridObject, coupling: JointCoupling, state,
                 config: PlannerConfig, to_file: np.ndarray, plane: np.ndarray | None = None,
                 file_object: ObjectModel | None = None, timings: dict[str, float] | None = None
                 ) -> tuple[RankedCandidates, dict[str, int]]:
    """Close, measure, reject and rank; grasps are returned in the object file's frame (``to_file``), best first,
    not yet de-duplicated (``RankedCandidates.pick``).

    With ``config.physics_rank.enabled`` and ``file_object`` (the mesh in the file frame), valid candidates are ranked
    by the object motion their closing causes in the physics test's scene first (``timings`` gets "physics_rank" and
    "decomposition" seconds)."""
    from diffgrasp.losses import exact_q1
    from diffgrasp.planning.fast_object import self_penetration_depth

    post = GraspPostprocessor(hand, obj, config.post, grid,
                              SurfaceSubsetHand(hand, config.post.closing_surface_stride), plane)
    q22 = coupling.expand(state.u.detach())
    pos, rot = state.position.detach(), state.rotation.detach()
    if not _closing_enabled(config):
        from diffgrasp.planning.postprocess import ClosedGrasps
        closed = ClosedGrasps(pos, rot, q22, torch.zeros(pos.shape[0], 6, dtype=torch.bool, device=pos.device))
    else:
        closed = post.close(pos, rot, q22)
    m = post.measure(closed, lambda a, b, r: self_penetration_depth(a, b, r, hand.self_collision_pairs))
    phases = post.phases(closed)

    pen = m["penetration"].cpu().numpy()
    self_pen = m["self_penetration"].cpu().numpy()
    touching = m["touching_groups"].cpu().numpy()
    ok_pen = pen <= config.post.max_penetration_m
    ok_self = self_pen <= config.post.max_self_penetration_m
    ok_touch = touching >= config.post.min_contact_fingers
    below = m["below_support"].cpu().numpy()
    ok_support = below <= config.post.max_penetration_m
    rejected = {"penetration": int((~ok_pen).sum()), "self_collision": int((ok_pen & ~ok_self).sum()),
                "too_few_contacts": int((ok_pen & ok_self & ~ok_touch).sum()),
                "below_support": int((ok_pen & ok_self & ok_touch & ~ok_support).sum())}
    valid = ok_pen & ok_self & ok_touch & ok_support

    dist = m["contact_distance"].cpu().numpy()
    cpts = m["contact_points"].cpu().numpy()
    cnormals = m["contact_normals"].cpu().numpy()
    com, rho = obj.center_of_mass, obj.characteristic_length
    # Exact Q1 of the contact candidates within each ranking distance (the first = the reported metric, the physics
    # test's contact distance). Measured on 144 planned grasps: Q1 > 0 within 2 mm passed the physics test 85 % of the
    # time, within 3 mm 58 %, within 5 mm 42 %, the rest 11-19 %: the wider ones only break ties.
    q1 = np.zeros((len(RANKING_DISTANCES_M), len(pen)))
    contact_count = (np.abs(dist) <= CONTACT_METRIC_DISTANCE_M).sum(1)
    # The network method returns k grasps even when fewer pass the checks: the failing ones after the valid ones,
    # least penetrating first, with their metrics (the user asked for the network's own grasps).
    keep_invalid = config.method == "network"
    for i in np.flatnonzero(valid | keep_invalid):  # qhull per grasp: a few ms each, post-processing only
        for level, distance in enumerate(RANKING_DISTANCES_M):
            near = np.abs(dist[i]) <= distance
            if near.sum() >= 2:
                q1[level, i] = exact_q1(cpts[i, near], cnormals[i, near], torque_scale=rho, center=com)
    rot_np, pos_np, q_np = closed.rotation.cpu().numpy(), closed.position.cpu().numpy(), closed.q22.cpu().numpy()
    rot_file = torch.as_tensor(to_file[:3, :3], dtype=closed.rotation.dtype) @ closed.rotation.cpu()
    quats = matrix_to_quaternion_xyzw(rot_file.double()).numpy()
    pos_file = pos_np @ to_file[:3, :3].T + to_file[:3, 3]
    pre_pos = phases["pregrasp_position"].cpu().numpy() @ to_file[:3, :3].T + to_file[:3, 3]
    pre_q = phases["pregrasp_joints"].cpu().numpy()
    sq_q = phases["squeeze_joints"].cpu().numpy()

    settle, physics_score = None, None
    if config.physics_rank.enabled and file_object is not None and valid.any():
        from diffgrasp.planning.physics_rank import best_phase_variants
        idx = np.flatnonzero(valid)
        choice = best_phase_variants(post, closed, idx, {
            "pregrasp_position": pre_pos[idx], "pregrasp_quat_wxyz": quats[idx][:, [3, 0, 1, 2]],
            "grasp_position": pos_file[idx], "grasp_joints": q_np[idx]}, file_object, config)
        motion = choice.motion
        sq_q[idx], pre_q[idx] = choice.squeeze_joints, choice.pregrasp_joints
        settle = np.full((2, len(pen)), np.nan)
        settle[0, idx], settle[1, idx] = motion.displacement_m, motion.rotation_deg
        physics_score = np.full(len(pen), np.inf)
        physics_score[idx] = motion.score(config.physics_rank)
        if timings is not None:
            timings["physics_rank"] = motion.seconds
            timings["decomposition"] = motion.decomposition_seconds
    # Only valid grasps are returned, ranked by the physics score (when on), then exact Q1 (2 mm, then 3 mm, then
    # 5 mm contacts), then by loss.
    loss = state.loss.detach().cpu().numpy()
    order_valid = ranking_order(q1, loss, valid, pen if keep_invalid else None, physics_score)
    q1 = q1[0]

    grasps = []
    for i in order_valid:
        grasps.append(Grasp(
            palm_position=pos_file[i].astype(float), palm_quaternion_xyzw=quats[i].astype(float),
            joints=dict(zip(FINGER_JOINT_NAMES, q_np[i].astype(float).tolist(), strict=True)),
            pregrasp_joints=dict(zip(FINGER_JOINT_NAMES, pre_q[i].astype(float).tolist(), strict=True)),
            squeeze_joints=dict(zip(FINGER_JOINT_NAMES, sq_q[i].astype(float).tolist(), strict=True)),
            pregrasp_palm_position=pre_pos[i].astype(float),
            pregrasp_palm_quaternion_xyzw=quats[i].astype(float),
            metrics={"q1_exact": float(q1[i]), "penetration_m": float(pen[i]),
                     "self_penetration_m": float(self_pen[i]), "contact_count": int(contact_count[i]),
                     "touching_fingers": int(touching[i]), "loss": float(loss[i]), "valid": bool(valid[i]),
                     **({} if settle is None or not np.isfinite(settle[0, i]) else
                        {"settle_displacement_m": float(settle[0, i]), "settle_rotation_deg": float(settle[1, i])})},
        ))
    score = np.full(len(pen), np.inf) if physics_score is None else physics_score
    return RankedCandidates(grasps, score[order_valid], pos_np[order_valid], rot_np[order_valid],
                            q_np[order_valid]), rejected


def ranking_order(q1_levels: np.ndarray, loss: np.ndarray, valid: np.ndarray,
                  invalid_penetration: np.ndarray | None = None,
                  physics_score: np.ndarray | None = None) -> np.ndarray:
    """Candidate indices best first: valid ones by ``physics_score`` (B,) when given (lower first), then by exact Q1
    at each contact distance in turn (q1_levels (L, B), first level decides first), then by loss (B,); with
    ``invalid_penetration`` (B,) the invalid ones follow, least penetrating first."""
    valid_idx = np.flatnonzero(valid)
    keys = [loss[valid], *(-q[valid] for q in q1_levels[::-1])]
    if physics_score is not None:
        keys.append(physics_score[valid])
    order = valid_idx[np.lexsort(keys)]
    if invalid_penetration is None:
        return order
    invalid = np.flatnonzero(~valid)
    return np.concatenate([order, invalid[np.argsort(invalid_penetration[invalid], kind="stable")]])


def _closing_enabled(config: PlannerConfig) -> bool:
    return config.post.close_steps > 0
