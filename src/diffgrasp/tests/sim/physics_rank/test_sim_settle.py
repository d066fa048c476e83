"""Batched closing + squeeze rollouts (diffgrasp.sim.physics_rank.settle) against the one-grasp reference
(GraspTester.push)."""

from __future__ import annotations

import copy

import numpy as np
from sim_fixtures import moved

from diffgrasp.sim.physics_test.trial import Phases


def _stack(phases: list[Phases]) -> dict[str, np.ndarray]:
    names = ("pregrasp_position", "pregrasp_quat_wxyz", "pregrasp_joints", "grasp_position", "grasp_quat_wxyz",
             "grasp_joints", "squeeze_joints")
    return {n: np.array([getattr(p, n) for p in phases]) for n in names}


def _variants(power_grasp):
    """The firm power grasp, a hard over-squeeze and a one-sided poke that shoves the object."""
    squeezed = copy.deepcopy(power_grasp)
    squeezed.squeeze_joints = {k: v + 0.6 for k, v in power_grasp.squeeze_joints.items()}
    poke = moved(power_grasp, -0.012)  # palm pushed 12 mm into the cylinder's side: the ramp shoves the object
    poke.pregrasp_palm_position = power_grasp.pregrasp_palm_position
    return [power_grasp, squeezed, poke]


def test_batched_settle_matches_reference_tester(cylinder_tester, power_grasp):
    from diffgrasp.sim.physics_rank.settle import SettleSimulator

    grasps = _variants(power_grasp)
    phases = [Phases.from_grasp(g) for g in grasps]
    reference = []
    for ph in phases:
        _, _, disp, rot = cylinder_tester.push(ph, np.zeros(3))
        reference.append((disp, rot))
    reference = np.array(reference)
    for threads in (1, 2):  # thread count changes nothing
        sim = SettleSimulator(cylinder_tester.model, cylinder_tester.index, cylinder_tester.config, threads=threads)
        disp, rot = sim.settle(**_stack(phases))
        np.testing.assert_allclose(disp, reference[:, 0], atol=2e-4)
        np.testing.assert_allclose(rot, reference[:, 1], atol=0.5)
    assert disp[0] < 0.005 and rot[0] < 3          # the firm grasp holds the object still
    assert disp[2] > 0.01                            # the poke shoves it: the test can tell them apart
    assert disp[2] / 0.03 + rot[2] / 15 > disp[0] / 0.03 + rot[0] / 15


def test_settle_of_no_grasps_is_empty(cylinder_tester):
    from diffgrasp.sim.physics_rank.settle import SettleSimulator

    sim = SettleSimulator(cylinder_tester.model, cylinder_tester.index, cylinder_tester.config, threads=1)
    empty = {n: np.zeros((0, k)) for n, k in (("pregrasp_position", 3), ("pregrasp_quat_wxyz", 4),
                                               ("pregrasp_joints", 22), ("grasp_position", 3),
                                               ("grasp_quat_wxyz", 4), ("grasp_joints", 22), ("squeeze_joints", 22))}
    disp, rot = sim.settle(**empty)
    assert disp.shape == (0,) and rot.shape == (0,)


def test_short_pushes_tell_a_loose_grasp_from_a_firm_one(cylinder_tester, power_grasp):
    """With pushes, the worst motion is at least the settle motion and at least the reference tester's motion at the
    end of equally long pushes in all six directions; the firm grasp stays still."""
    import dataclasses

    from diffgrasp.sim.physics_rank.settle import SettleSimulator

    grasps = _variants(power_grasp)
    phases = [Phases.from_grasp(g) for g in grasps]
    sim = SettleSimulator(cylinder_tester.model, cylinder_tester.index, cylinder_tester.config, threads=1)
    settle_disp, settle_rot = sim.settle(**_stack(phases))
    disp, rot = sim.settle(**_stack(phases), push_s=0.2)
    assert np.all(disp >= settle_disp - 1e-9) and np.all(rot >= settle_rot - 1e-9)
    from diffgrasp.sim.physics_test.trial import DIRECTIONS, GraspTester
    short = dataclasses.replace(cylinder_tester.config, push_s=0.2, check_interval_s=0.2)
    reference = GraspTester(cylinder_tester.model, cylinder_tester.index, short)
    for i, ph in enumerate(phases):
        worst = np.array([reference.push(ph, short.disturbance_force * unit)[:2] for _, unit in DIRECTIONS]).max(0)
        assert disp[i] >= worst[0] - 2e-4 and rot[i] >= worst[1] - 0.5
    assert disp[0] < 0.005 and rot[0] < 5  # the firm power grasp holds against every push


def test_push_filter_pushes_only_the_chosen_grasps(cylinder_tester, power_grasp):
    """Grasps the filter leaves out report their settle motion; the pushed ones exactly what a full push gives."""
    from diffgrasp.sim.physics_rank.settle import SettleSimulator

    phases = _stack([Phases.from_grasp(g) for g in _variants(power_grasp)])
    sim = SettleSimulator(cylinder_tester.model, cylinder_tester.index, cylinder_tester.config, threads=1)
    settle = sim.settle(**phases)
    full = sim.settle(**phases, push_s=0.2)
    seen = []

    def only_the_firm_one(d, r):
        seen.append((d.copy(), r.copy()))
        return np.arange(len(d)) == 0

    part = sim.settle(**phases, push_s=0.2, push_filter=only_the_firm_one)
    np.testing.assert_array_equal(seen[0][0], settle[0])  # the filter sees the settle motion
    for i in range(2):
        assert part[i][0] == full[i][0] and np.array_equal(part[i][1:], settle[i][1:])
    none = sim.settle(**phases, push_s=0.2, push_filter=lambda d, r: np.zeros(len(d), bool))
    np.testing.assert_array_equal(np.array(none), np.array(settle))


def test_pregrasp_penetration_is_the_prefilter_depth(cylinder_tester, power_grasp):
    """The batched pre-filter depth equals the reference tester's, grasp by grasp; a pregrasp 2.7 cm inside fails."""
    from diffgrasp.sim.physics_rank.settle import SettleSimulator

    deep = moved(power_grasp, -0.03)  # the whole hand 3 cm into the cylinder (the §7 pregrasp backs off 3 mm)
    grasps = [*_variants(power_grasp), deep]
    phases = [Phases.from_grasp(g) for g in grasps]
    sim = SettleSimulator(cylinder_tester.model, cylinder_tester.index, cylinder_tester.config, threads=1)
    stacked = _stack(phases)
    depth = sim.pregrasp_penetration(stacked["pregrasp_position"], stacked["pregrasp_quat_wxyz"],
                                     stacked["pregrasp_joints"])
    reference = np.array([max(cylinder_tester.prefilter(ph)) for ph in phases])
    np.testing.assert_allclose(depth, reference, atol=1e-12)
    assert depth[0] < 1e-3 and depth[-1] > cylinder_tester.config.prefilter_penetration_m


def test_verification_pushes_longer_and_fails_deep_pregrasps(cylinder_mesh, power_grasp, monkeypatch, tmp_path):
    """verification_motion = the grasps' own phases with pushes of verify_push_s (the batched simulator's numbers),
    except a grasp whose pregrasp fails the test's pre-filter: inf."""
    import dataclasses

    from diffgrasp.geometry import ObjectModel
    from diffgrasp.geometry.convex_decomposition import CoacdConfig
    from diffgrasp.planning import PhysicsRankConfig
    from diffgrasp.planning.scoring import verification_motion, verification_stop
    from diffgrasp.sim.physics_rank.scorer import settle_simulator

    monkeypatch.setenv("DIFFGRASP_CACHE", str(tmp_path))
    deep = moved(power_grasp, -0.03)  # pregrasp 2.7 cm inside
    grasps = [*_variants(power_grasp), deep]
    rank = PhysicsRankConfig(threads=1, verify_push_s=0.2,
                             coacd=CoacdConfig(threshold=0.1, preprocess_resolution=30, resolution=1000,
                                               mcts_iterations=30, mcts_nodes=10))
    cylinder = ObjectModel(cylinder_mesh, name="cylinder")
    sim, _ = settle_simulator(cylinder.mesh, "cylinder", rank)
    motion = verification_motion(grasps, sim, rank)
    disp, rot = sim.settle(**sim.phase_arrays(grasps), push_s=0.2, push_stop=verification_stop(rank))
    np.testing.assert_array_equal(motion.displacement_m[:3], disp[:3])
    np.testing.assert_array_equal(motion.rotation_deg, rot)
    assert np.isinf(motion.displacement_m[3]) and np.isfinite(disp[3])
    longer = verification_motion(grasps[:1], sim, dataclasses.replace(rank, verify_push_s=0.4))
    assert longer.displacement_m[0] >= motion.displacement_m[0] - 1e-12  # the first 0.2 s are the same steps
    assert motion.score(rank)[0] < 1.0  # the firm grasp holds through the longer pushes


def test_decided_pushes_end_early_with_the_same_verdicts(cylinder_tester, power_grasp, monkeypatch):
    """PushStop: a push that moved the object as far as the test fails a grasp ends (with that grasp's other
    pushes), the verdicts and the holding grasps' motion stay those of full pushes; with rest_score > 0 a firm
    grasp at rest ends early too. Fewer rollout steps in both cases (counted)."""
    from diffgrasp.planning.scoring import PushStop
    from diffgrasp.sim.physics_rank import settle as settle_module
    from diffgrasp.sim.physics_rank.settle import SettleSimulator

    steps = []
    rollout = settle_module.rollout.rollout

    def counting(model, data, state, control=None, **kw):
        out = rollout(model, data, state, control, **kw)
        steps.append(out[0].shape[0] * out[0].shape[1])
        return out

    monkeypatch.setattr(settle_module.rollout, "rollout", counting)
    phases = _stack([Phases.from_grasp(g) for g in _variants(power_grasp)])
    sim = SettleSimulator(cylinder_tester.model, cylinder_tester.index, cylinder_tester.config, threads=1)
    test = cylinder_tester.config

    def run(stop):
        steps.clear()
        disp, rot = sim.settle(**phases, push_s=0.6, push_stop=stop)
        return disp, rot, sum(steps)

    full_d, full_r, full_steps = run(None)
    fails = (full_d >= test.max_displacement_m) | (full_r >= test.max_rotation_deg)
    assert fails.tolist() == [False, False, True]  # the poke shoves the object out; the two others hold
    fail_d, fail_r, fail_steps = run(PushStop(0.1, 0.0, 0.03, 15.0))
    np.testing.assert_array_equal((fail_d >= test.max_displacement_m) | (fail_r >= test.max_rotation_deg), fails)
    np.testing.assert_allclose(fail_d[~fails], full_d[~fails], atol=2e-4)  # chunks restart the solver's warm start
    np.testing.assert_allclose(fail_r[~fails], full_r[~fails], atol=0.5)
    assert fail_steps < full_steps
    rest_d, rest_r, rest_steps = run(PushStop(0.1, 0.05, 0.03, 15.0))
    assert rest_steps < fail_steps
    assert np.all(rest_d[0] / 0.03 + rest_r[0] / 15 <= full_d[0] / 0.03 + full_r[0] / 15 + 0.05)
