"""Planner configuration (``config/planner.yaml`` mirrors these defaults; CLI flags override)."""

from __future__ import annotations

import dataclasses

from diffgrasp.geometry.convex_decomposition import CoacdConfig
from diffgrasp.hand.names import THUMB_JOINT_NAMES
from diffgrasp.losses.total import LossConfig

METHODS = ("diffgrasp", "dexgraspnet", "network")
INITS = ("random", "network")


@dataclasses.dataclass(frozen=True)
class InitConfig:
    """Initial palm poses: approach points on the object's convex hull, palm facing the surface, random roll.

    standoff_m: gap between the hull and the palm's skin at start (m). joint_noise_rad: uniform noise on the
    pre-shape. preshape: name → rad for the reduced joints (others 0); the thumb is opposed and half closed.

    Network initialisation (``init: network``) uses the network's G predictions for a network_share of the
    candidates (the rest are random starts, as ``init: random``): the predictions once, then copies perturbed by
    network_jitter_position_m (std of Gaussian palm-position noise per axis, m), network_jitter_rotation_rad (std of
    the angle of a random rotation about a uniformly random axis, applied to the palm orientation) and
    network_jitter_joints_rad (std of Gaussian noise on the reduced joints, clipped to limits).

    Pinch starts (a pinch_fraction share of the random ones): instead of the palm's skin sitting standoff_m outside
    the hull point, the hand's pinch_point (rh_palm frame, m; between the thumb tip and the first two fingertips in the
    pre-shape) sits up to pinch_depth_m inside it, and the hand is pitched about the palm's x axis through that point
    by a uniform angle in ±pinch_pitch_rad. Small or flat objects (on a table above all) start between the digits;
    from palm starts their refinement ends in a fist above them. Only objects whose thinnest extent (of the oriented
    bounding box) is at most pinch_max_thickness_m get pinch starts: a large ball does not fit between the digits.

    Power starts (a power_fraction share of the random starts that are not pinch starts — by default all of them: a
    palm start's fingertips cannot span such an object — for objects whose thinnest extent is at least
    power_min_thickness_m): an enveloping grasp's start. The palm's
    skin sits power_standoff_m outside the hull point, the fingers point along the tangent direction in which the
    object is narrowest (± power_roll_jitter_rad), and they are pre-curled to power_curl of the flexion that wraps
    them around a cylinder of the local radius (half the object's depth behind the point or its narrowest tangent
    width, at least power_min_radius_m): palm, proximal and middle phalanges then all lie near the surface, so palm
    and phalanx contacts carry the grasp where fingertips cannot span the object. The thumb starts in the palm's
    plane (power_thumb); the planner then places it by search (planning.power_starts.fit_thumbs): of
    power_thumb_tries configurations (power_thumb, then uniform within the limits), the one whose skin comes closest
    to the surface without penetrating it more than power_thumb_max_penetration_m. A fixed opposed thumb would start
    deep inside an object that large.
    """

    standoff_m: float = 0.025
    standoff_jitter_m: float = 0.01
    joint_noise_rad: float = 0.15
    preshape: dict[str, float] = dataclasses.field(default_factory=lambda: {
        "rh_FFJ3": 0.35, "rh_FFJ2": 0.3, "rh_MFJ3": 0.35, "rh_MFJ2": 0.3, "rh_RFJ3": 0.35, "rh_RFJ2": 0.3,
        "rh_LFJ3": 0.35, "rh_LFJ2": 0.3, "rh_LFJ5": 0.1, "rh_THJ5": 0.4, "rh_THJ4": 1.0, "rh_THJ2": 0.0,
        "rh_THJ1": 0.3,
    })
    network_jitter_position_m: float = 0.005
    network_jitter_rotation_rad: float = 0.1
    network_jitter_joints_rad: float = 0.1
    network_share: float = 0.5
    pinch_fraction: float = 0.5
    pinch_point: tuple[float, float, float] = (0.02, -0.06, 0.13)
    pinch_depth_m: float = 0.01
    pinch_pitch_rad: float = 0.8
    pinch_max_thickness_m: float = 0.08
    power_fraction: float = 1.0
    power_min_thickness_m: float = 0.07
    power_standoff_m: float = 0.005
    power_curl: float = 0.7
    power_roll_jitter_rad: float = 0.3
    power_min_radius_m: float = 0.03
    power_thumb: dict[str, float] = dataclasses.field(default_factory=lambda: {
        "rh_THJ5": 0.0, "rh_THJ4": 0.0, "rh_THJ3": 0.0, "rh_THJ2": 0.0, "rh_THJ1": 0.0,
    })
    power_thumb_tries: int = 48
    power_thumb_max_penetration_m: float = 0.001

    def __post_init__(self) -> None:
        for name in ("pinch_fraction", "network_share", "power_fraction"):
            if not 0.0 <= float(getattr(self, name)) <= 1.0:
                raise ValueError(f"planner.init_config.{name}: must be in [0, 1], got {getattr(self, name)}")
        for name in ("power_standoff_m", "power_curl", "power_roll_jitter_rad", "power_thumb_max_penetration_m"):
            if not float(getattr(self, name)) >= 0:
                raise ValueError(f"planner.init_config.{name}: must be >= 0, got {getattr(self, name)}")
        if not float(self.power_min_radius_m) > 0:
            raise ValueError(f"planner.init_config.power_min_radius_m: must be > 0, got {self.power_min_radius_m}")
        if not int(self.power_thumb_tries) >= 1:
            raise ValueError(f"planner.init_config.power_thumb_tries: must be >= 1, got {self.power_thumb_tries}")
        unknown = sorted(set(self.power_thumb) - set(THUMB_JOINT_NAMES))
        if unknown:
            raise ValueError(f"planner.init_config.power_thumb: not thumb joints: {', '.join(unknown)} "
                             f"(expected some of {', '.join(THUMB_JOINT_NAMES)})")
        if len(self.pinch_point) != 3:
            raise ValueError(f"planner.init_config.pinch_point: expected 3 coordinates (m), got {self.pinch_point}")
        for name in ("network_jitter_position_m", "network_jitter_rotation_rad", "network_jitter_joints_rad"):
            if not float(getattr(self, name)) >= 0:
                raise ValueError(f"planner.init_config.{name}: must be >= 0, got {getattr(self, name)}")


@dataclasses.dataclass(frozen=True)
class OptimConfig:
    """Batched Adam on the grasp loss; learning rates per parameter group (m, 6D rotation, rad)."""

    iterations: int = 80
    lr_position: float = 2e-3
    lr_rotation: float = 1e-2
    lr_joints: float = 3e-2
    lr_decay: float = 0.3          # final lr = lr · lr_decay (cosine)
    feedback_every: int = 10       # progress callback period (iterations)


@dataclasses.dataclass(frozen=True)
class PostprocessConfig:
    """Contact-seeking closing, pregrasp/squeeze derivation, rejection, de-duplication and ranking."""

    close_min_rad: float = -0.3       # closing sweep per finger: from opening this much ...
    close_max_rad: float = 0.8        # ... to closing this much (rad, flexion joints)
    close_steps: int = 23             # coarse sweep (0.05 rad apart by default) ...
    close_fine_steps: int = 11        # ... then a fine sweep inside the bracket of the first contact
    contact_distance_m: float = 0.0005  # a finger stops closing once its skin is this close to the surface
    closing_surface_stride: int = 1   # hand skin samples checked while closing (every n-th per link)
    squeeze_rad: float = 0.2          # flexion targets beyond the grasp (motor targets, may pass the limits)
    pregrasp_open_rad: float = 0.2    # flexion opened for the approach
    pregrasp_backoff_m: float = 0.01  # palm backed off along +y of rh_palm for the pregrasp
    max_penetration_m: float = 0.001
    max_self_penetration_m: float = 0.003  # capsules are conservative (they overlap where the real links touch)
    min_contact_fingers: int = 2      # fingers (incl. thumb/palm) touching after closing
    dedupe_position_m: float = 0.01
    dedupe_rotation_rad: float = 0.2
    dedupe_joint_rad: float = 0.3
    # "together": each finger's flexion joints close by one amount; "proximal_first": the proximal flexion joint
    # (J3, THJ2) closes until the finger touches, then the distal ones (J2 + J1, THJ1) from there: a wrap
    close_order: str = "together"

    def __post_init__(self) -> None:
        if self.close_order not in CLOSE_ORDERS:
            raise ValueError(f"planner.post.close_order: one of {', '.join(CLOSE_ORDERS)}, got {self.close_order!r}")


CLOSE_ORDERS = ("together", "proximal_first")


@dataclasses.dataclass(frozen=True)
class PhysicsRankConfig:
    """Ranking by physics plausibility: each valid candidate's pregrasp → grasp → squeeze runs in the physics test's
    MuJoCo scene (diffgrasp.sim.physics_rank.settle) and candidates whose closing moves the object least come first.

    Score = rotation / rotation_scale_deg + displacement / displacement_scale_m (the test fails a grasp at 15° or
    5 cm), the worst over the settle and, with push_s > 0, six short pushes (±x, ±y, ±z, the test's force) from the
    squeezed state. Needs the object's convex decomposition (CoACD, cached on disk like the physics test's).
    Each candidate is tried with every squeeze amount in ``squeeze_rad`` (rad beyond the grasp on the touching
    fingers' flexion joints; empty: post.squeeze_rad only) combined with every pregrasp opening in
    ``pregrasp_open_rad`` (empty: post.pregrasp_open_rad only) and keeps its best pair. threads: MuJoCo rollout
    threads (0: every core). retry_band: the pairs after the first are simulated only for candidates whose first
    score lies in [lo, hi) (empty: for all). push_below_score: only candidates whose settle score (before the
    pushes) is below it are pushed (inf: all); the others keep the settle score, a lower bound already out of the
    running. coacd: the decomposition's settings (default: the physics test's own, sharing its cache;
    noisy scans want coarser ones: a fused demo scan took 86 s with these, 3 s with threshold 0.1 and 8 hulls).
    scorer: the ``module:attribute`` of the ScorerFactory that simulates (diffgrasp.planning.scoring; default: the
    physics test's MuJoCo scene, diffgrasp.sim.physics_rank.scorer) — e.g. a GPU implementation of the same protocol.

    Verification: the ranking's best distinct grasps run again with longer pushes (``verify_push_s`` each, the same
    six directions), in ranking order — the first k, then twice as many as are still missing to k that hold (score
    below ``verify_holding_score``), at most ceil(verify_per_grasp · k) in all — and the k that move the object
    least are returned, in that order (verify_per_grasp 0 = off). The short pushes miss grasps that hold for a
    while and then slip (val split: slips after 0.75–1.6 s of a steady push). A verification push whose outcome is
    decided ends early (checked every ``verify_check_s``): the object moved as far as the physics test fails a grasp
    (its other pushes end too; the same verdicts), or, with ``verify_rest_score`` > 0, it is at rest — at its speed
    over the last two checks the rest of the push would add less than that to the score. Off by default: on 96
    verified grasps of three val objects, 0.02 saved a fifth of the push steps but one grasp that was still for
    0.2 s slipped later and would have been taken as holding. verify_ahead: the grasps that already hold are
    verified in a background thread (one rollout thread) while reseeding runs (the same results).
    """

    enabled: bool = True
    push_s: float = 0.1
    squeeze_rad: tuple[float, ...] = (0.1, 0.2, 0.3)
    pregrasp_open_rad: tuple[float, ...] = ()
    rotation_scale_deg: float = 15.0
    displacement_scale_m: float = 0.03
    retry_band: tuple[float, ...] = (1.0, 5.0)
    push_below_score: float = 2.0
    verify_per_grasp: float = 2.0
    verify_push_s: float = 1.0
    verify_holding_score: float = 1.0
    verify_check_s: float = 0.1
    verify_rest_score: float = 0.0
    verify_ahead: bool = True
    threads: int = 0
    coacd: CoacdConfig = dataclasses.field(default_factory=CoacdConfig)
    scorer: str = "diffgrasp.sim.physics_rank.scorer:SettleScorer"

    def __post_init__(self) -> None:
        if not (self.rotation_scale_deg > 0 and self.displacement_scale_m > 0):
            raise ValueError("planner.physics_rank: rotation_scale_deg and displacement_scale_m must be > 0")
        if self.push_s < 0:
            raise ValueError(f"planner.physics_rank.push_s: must be >= 0, got {self.push_s}")
        if self.threads < 0:
            raise ValueError(f"planner.physics_rank.threads: must be >= 0, got {self.threads}")
        if self.retry_band and not (len(self.retry_band) == 2 and self.retry_band[0] < self.retry_band[1]):
            raise ValueError("planner.physics_rank.retry_band: [lo, hi] with lo < hi or [], "
                             f"got {list(self.retry_band)}")
        if not self.push_below_score > 0:
            raise ValueError(f"planner.physics_rank.push_below_score: must be > 0, got {self.push_below_score}")
        if not (self.verify_per_grasp >= 0 and self.verify_push_s > 0 and self.verify_holding_score > 0):
            raise ValueError("planner.physics_rank: verify_per_grasp must be >= 0, verify_push_s and "
                             f"verify_holding_score > 0, got {self.verify_per_grasp}, {self.verify_push_s} and "
                             f"{self.verify_holding_score}")
        if not (self.verify_check_s > 0 and self.verify_rest_score >= 0):
            raise ValueError("planner.physics_rank: verify_check_s must be > 0 and verify_rest_score >= 0, got "
                             f"{self.verify_check_s} and {self.verify_rest_score}")


@dataclasses.dataclass(frozen=True)
class ReseedConfig:
    """More candidates where the physics ranking found too few holding grasps (method diffgrasp, physics ranking on).

    After a round, if fewer than k of the de-duplicated grasps have a physics score below ``good_score`` (but at
    least one has), ``candidates`` jittered copies of the holding grasps (as closed; best first, at most k of them,
    round robin) are refined for ``iterations``, post-processed and ranked together with the earlier rounds; at most
    ``rounds`` such rounds (0: off). With ``per_missing`` > 0 a round refines only per_missing × (k − holding) copies
    when that is fewer. Jitter: jitter_position_m (std of Gaussian palm-position noise per axis, m),
    jitter_rotation_rad (std of the angle of a rotation about a uniformly random axis), jitter_joints_rad (std of
    Gaussian noise on the reduced joints, clipped to the limits). On the val split 93 % of the grasps scoring below
    0.7 passed the physics test, 82 % of those in [0.7, 1), 55 % in [1, 2) and none of 122 from 2 up; passing share
    of the top 16: no reseeding 70.8 %, one round of 32 76.0 %, two of 32 79.2 %, four of 32 79.2 %, two of 64
    82.3 % (the thin chain and toy airplanes gain; issue-6 note).

    When none holds, there is nothing to copy: up to ``fresh_rounds`` rounds of ``fresh_candidates`` new starts
    (the plan's own kind) are refined for the full ``optim.iterations`` and ranked with the rest instead, and the
    reseeding goes on from what holds then. Large round objects need it: a 90 mm × 250 mm cylinder had no holding
    grasp among 64 candidates (0/16 passed the physics test) and 16/16 passing with 256.
    """

    rounds: int = 2
    fresh_rounds: int = 1
    fresh_candidates: int = 128
    good_score: float = 1.0
    candidates: int = 64
    per_missing: int = 0
    iterations: int = 40
    jitter_position_m: float = 0.005
    jitter_rotation_rad: float = 0.1
    jitter_joints_rad: float = 0.1

    def __post_init__(self) -> None:
        if self.rounds < 0 or self.candidates < 1 or self.iterations < 0 or self.per_missing < 0:
            raise ValueError("planner.reseed: rounds >= 0, candidates >= 1, per_missing >= 0 and iterations >= 0 "
                             f"required, got {self.rounds}, {self.candidates}, {self.per_missing}, {self.iterations}")
        if self.fresh_rounds < 0 or self.fresh_candidates < 1:
            raise ValueError("planner.reseed: fresh_rounds >= 0 and fresh_candidates >= 1 required, got "
                             f"{self.fresh_rounds}, {self.fresh_candidates}")
        for name in ("jitter_position_m", "jitter_rotation_rad", "jitter_joints_rad", "good_score"):
            if not float(getattr(self, name)) >= 0:
                raise ValueError(f"planner.reseed.{name}: must be >= 0, got {getattr(self, name)}")


def _budget_coacd() -> CoacdConfig:
    return CoacdConfig(threshold=0.2, max_convex_hull=4, preprocess_resolution=20, resolution=300,
                       mcts_iterations=20, mcts_nodes=10)


@dataclasses.dataclass(frozen=True)
class BudgetConfig:
    """How a time budget (``time_budget_s`` or ``plan --time-budget``) is shared; without one nothing here applies.

    The budget runs from when planning is asked for (the CLI: when it starts parsing arguments) and covers
    everything. Planning returns by ``end_fraction`` of it; ``plan`` keeps a further ``exit_reserve_s`` for writing
    the file and leaving (the console script exits without Python's ~1 s teardown of torch, warp and trimesh), so
    that the whole command ends within the budget. Once the object is ready (mesh,
    SDF grid), the time left until then is shared by cumulative shares: refinement stops at ``refine_share``,
    closing and exact measuring take further chunks of candidates (best loss first: 4, 8, then ``chunk`` at a time)
    until ``close_share``, exact Q1 and the physics ranking (in chunks too) until ``rank_share``, reseeding rounds
    (only when the first round's pace says one fits) and verification (in chunks) until the end. Candidates not
    post-processed by then are dropped; the result has status "time_budget" and says what was cut.

    Budgets shorter than ``short_s`` use cheaper preprocessing: meshes above ``max_faces`` faces are simplified to
    that (instead of the planner's max_faces; the initial poses' convex hull steps cost ~7 s at 200k faces of a
    convex mesh, 0.5 s at 20k), an SDF grid from ``sdf_surface_samples`` surface samples (~0.4 s less), and, when
    the physics ranking's own decomposition is not cached, the ``coacd`` settings below (about 3 s on a YCB mesh
    instead of about 70 s), computed in the background while refinement runs. The physics ranking is skipped if
    even that is not ready by its stage end.
    """

    end_fraction: float = 0.93
    exit_reserve_s: float = 0.3
    refine_share: float = 0.35
    close_share: float = 0.6
    rank_share: float = 0.85
    chunk: int = 16
    short_s: float = 30.0
    max_faces: int = 20_000
    sdf_surface_samples: int = 100_000
    coacd: CoacdConfig = dataclasses.field(default_factory=_budget_coacd)

    def __post_init__(self) -> None:
        if not 0 < self.end_fraction <= 1:
            raise ValueError(f"planner.budget.end_fraction: must be in (0, 1], got {self.end_fraction}")
        if not self.exit_reserve_s >= 0:
            raise ValueError(f"planner.budget.exit_reserve_s: must be >= 0, got {self.exit_reserve_s}")
        if not 0 <= self.refine_share <= self.close_share <= self.rank_share <= 1:
            raise ValueError("planner.budget: 0 <= refine_share <= close_share <= rank_share <= 1 required, got "
                             f"{self.refine_share}, {self.close_share}, {self.rank_share}")
        if self.max_faces < 4:
            raise ValueError(f"planner.budget.max_faces: must be >= 4, got {self.max_faces}")
        if self.chunk < 1 or self.sdf_surface_samples < 1000:
            raise ValueError(f"planner.budget: chunk >= 1 and sdf_surface_samples >= 1000 required, got {self.chunk} "
                             f"and {self.sdf_surface_samples}")


@dataclasses.dataclass(frozen=True)
class PlannerConfig:
    """All planner settings. ``candidates_per_grasp`` × k candidates are refined together.

    Limits: at most ``max_candidates`` candidates are refined (memory and time grow linearly with them: about 1 GB
    and a few seconds per iteration at 1024 on the 2-core box), so k is capped to max_candidates //
    candidates_per_grasp (the network method: max_candidates), with a note in the result's message. Meshes with more
    than ``max_faces`` faces (null: no limit) are simplified by quadric decimation first, with a warning
    (diffgrasp.geometry.simplify): 200k faces keep every per-mesh step under a second or so; detail below the SDF
    grid's 2 mm cells does not change a grasp.
    """

    method: str = "diffgrasp"
    # With the full 80 iterations random starts, half of them pinch starts, pass the most on the val split: 70.8 %
    # (11 of 12 objects) vs 68.8 % (10) half network + half random, 64.1 % (11) network only, 53.1 % (11) random palm
    # starts only (issue-6 note). Under a short time budget network proposals win: 30 % vs 17 % pass at 5 s, 43 % vs
    # 40 % at 15 s (palm starts; issue-8 note), so --init network suits --time-budget.
    init: str = "random"
    # Network checkpoint for init "network" / method "network" (None: the packaged one, see
    # diffgrasp.network.default_checkpoint_path()).
    network_checkpoint: str | None = None
    candidates_per_grasp: int = 4
    min_candidates: int = 64
    max_candidates: int = 1024
    max_faces: int | None = 200_000
    time_budget_s: float | None = None
    budget: BudgetConfig = dataclasses.field(default_factory=BudgetConfig)
    # torch intra-op threads while planning on the CPU (0 = leave torch's setting). The planner's tensors are small
    # (64 candidates × a few thousand points): one thread was 4–8× faster than two on the 2-core dev box.
    torch_threads: int = 1
    # Refinement evaluates the loss on at most this many candidates at a time (0: all at once); same result, faster.
    refine_chunk: int = 64
    coupling_ratio: float = 1.0
    sdf_voxel_m: float = 0.002     # spacing of the signed-distance grid used during refinement
    # Contact candidates (Q1, closeness) read the grid too during refinement (exact otherwise); metrics stay exact.
    grid_contacts: bool = True
    surface_stride: int = 4        # refinement uses every n-th hand surface sample per link (metrics use all)
    init_config: InitConfig = dataclasses.field(default_factory=InitConfig)
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    post: PostprocessConfig = dataclasses.field(default_factory=PostprocessConfig)
    physics_rank: PhysicsRankConfig = dataclasses.field(default_factory=PhysicsRankConfig)
    reseed: ReseedConfig = dataclasses.field(default_factory=ReseedConfig)
    # Plane the object rests on, (a, b, c, d) in the object file frame, unit normal into free space (None: no table).
    # The hand must stay support_margin_m above it: a loss term during refinement, a stop while closing, a rejection.
    support_plane: tuple[float, float, float, float] | None = None
    support_margin_m: float = 0.005
    w_support: float = 100.0       # per metre of summed clearance violation of the hand's skin samples
    # The loss library's settings (config/loss.yaml) with the planner's own overrides: a stronger Q1 term and a softer
    # distance decay (α in 1/m) give Q1 a gradient at the initial standoff; measured better in the physics test
    # (planner note). Training uses loss.yaml as it is.
    loss: LossConfig = dataclasses.field(default_factory=lambda: LossConfig(w_q1=5.0, alpha=50.0, w_closeness=3000.0))

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"planner.method: {self.method!r} is not one of {', '.join(METHODS)}")
        if self.init not in INITS:
            raise ValueError(f"planner.init: {self.init!r} is not one of {', '.join(INITS)}")
        if self.candidates_per_grasp < 1 or self.min_candidates < 1:
            raise ValueError("planner: candidates_per_grasp and min_candidates must be >= 1")
        if self.max_candidates < max(self.min_candidates, self.candidates_per_grasp):
            raise ValueError(f"planner.max_candidates: must be >= min_candidates and candidates_per_grasp, got "
                             f"{self.max_candidates}")
        if self.max_faces is not None and self.max_faces < 4:
            raise ValueError(f"planner.max_faces: must be >= 4 or null, got {self.max_faces}")
        if self.refine_chunk < 0:
            raise ValueError(f"planner.refine_chunk: must be >= 0, got {self.refine_chunk}")
        if self.torch_threads < 0:
            raise ValueError(f"planner.torch_threads: must be >= 0, got {self.torch_threads}")
        if self.time_budget_s is not None and not self.time_budget_s > 0:
            raise ValueError(f"planner.time_budget_s: must be > 0, got {self.time_budget_s}")
