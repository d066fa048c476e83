"""Power starts (issue 21): palm on a large object, fingers curled around it across its narrow direction, the thumb
placed by search where it touches without penetrating."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import trimesh

from diffgrasp.geometry import ObjectModel
from diffgrasp.hand import JointCoupling, ShadowHand
from diffgrasp.hand.names import THUMB_JOINT_NAMES
from diffgrasp.planning import InitConfig
from diffgrasp.planning.initialization import PALM_SKIN_POINT, initial_candidates
from diffgrasp.planning.power_starts import POWER_J2_ARC_M, POWER_J3_ARC_M, POWER_ROLLS, fit_thumbs

CAN = trimesh.creation.cylinder(radius=0.06, height=0.17, sections=96)  # axis z, 120 mm across
POWER = InitConfig(pinch_fraction=0.0, power_fraction=1.0, joint_noise_rad=0.0, power_roll_jitter_rad=0.0)


def _on_side(pos: np.ndarray, rot: np.ndarray) -> np.ndarray:
    """(n,) bool: the palm faces the can's side (not a cap) away from its rims."""
    skin = pos + np.einsum("nij,j->ni", rot, PALM_SKIN_POINT)
    return (np.abs(rot[:, 2, 1]) < 0.1) & (np.abs(skin[:, 2]) < 0.03)


def test_power_starts_put_the_palm_on_the_surface_and_wrap_the_fingers_across_the_axis():
    coupling = JointCoupling()
    pos, rot, u = (t.numpy() for t in initial_candidates(CAN, 400, coupling, POWER, np.random.default_rng(0),
                                                          torch.float64))
    side = _on_side(pos, rot)
    assert side.sum() > 50
    skin = pos + np.einsum("nij,j->ni", rot, PALM_SKIN_POINT)
    # The palm's skin sits power_standoff_m outside the side ...
    assert np.linalg.norm(skin[side, :2], axis=1) == pytest.approx(0.06 + POWER.power_standoff_m, abs=1e-3)
    # ... the fingers (palm +z) run around the can, across its axis: its narrowest direction there (to the half step
    # of the directions tried) ...
    assert np.abs(rot[side, 2, 2]).max() <= np.sin(np.pi / POWER_ROLLS / 2) + 1e-9
    # ... curled to power_curl of the wrap of a 60 mm radius (the can's depth behind the palm / 2).
    names = coupling.reduced_names
    for finger in ("FF", "MF", "RF", "LF"):
        assert u[side, names.index(f"rh_{finger}J3")] == pytest.approx(POWER.power_curl * POWER_J3_ARC_M / 0.06,
                                                                         abs=1e-3)
        assert u[side, names.index(f"rh_{finger}J2")] == pytest.approx(POWER.power_curl * POWER_J2_ARC_M / 0.06,
                                                                         abs=1e-3)
    for name, value in POWER.power_thumb.items():  # no thumb_fit: the thumb stays in the palm's plane
        assert np.all(u[:, names.index(name)] == value)


def test_thin_objects_get_no_power_starts_and_keep_their_random_stream():
    box = trimesh.creation.box(extents=(0.03, 0.12, 0.1))  # thinner than power_min_thickness_m
    draw = lambda config: initial_candidates(box, 64, JointCoupling(), config, np.random.default_rng(3),  # noqa: E731
                                             torch.float64)
    with_power, without = draw(InitConfig(power_fraction=1.0)), draw(InitConfig(power_fraction=0.0))
    for a, b in zip(with_power, without, strict=True):
        assert torch.equal(a, b)


def test_power_fraction_shares_the_starts_that_are_not_pinch_starts():
    box = trimesh.creation.box(extents=(0.075, 0.12, 0.1))  # thick enough for both kinds
    config = InitConfig(pinch_fraction=0.5, power_fraction=0.5, standoff_jitter_m=0.0, joint_noise_rad=0.0)
    pos, rot, u = (t.numpy() for t in initial_candidates(box, 2000, JointCoupling(), config,
                                                          np.random.default_rng(0), torch.float64))
    thumb_in_plane = u[:, JointCoupling().reduced_names.index("rh_THJ4")] == 0.0  # the power thumb
    assert thumb_in_plane.mean() == pytest.approx(0.25, abs=0.04)


def test_fit_thumbs_places_the_thumb_on_the_surface_without_penetrating():
    hand, coupling = ShadowHand(dtype=torch.float64), JointCoupling()
    obj = ObjectModel(CAN)
    # A palm 1 cm off the side (the default 5 mm leaves the thumb's base inside: refinement lifts the palm then).
    config = dataclasses.replace(POWER, power_standoff_m=0.01)
    pos, rot, u = initial_candidates(CAN, 200, coupling, config, np.random.default_rng(1), torch.float64)
    side = torch.as_tensor(np.flatnonzero(_on_side(pos.numpy(), rot.numpy()))[:12])
    pos, rot, u = pos[side], rot[side], u[side]
    fitted = fit_thumbs(hand, obj.signed_distance, coupling, config, pos, rot, u, np.random.default_rng(0))
    thumb = [coupling.reduced_names.index(n) for n in THUMB_JOINT_NAMES]
    other = [i for i in range(u.shape[1]) if i not in thumb]
    assert torch.equal(fitted[:, other], u[:, other])  # only the thumb moves

    def thumb_distance(q: torch.Tensor) -> torch.Tensor:
        """(B, N) exact signed distance of the thumb's skin samples at reduced joints q."""
        links = [i for i, link in enumerate(hand.palm_link_names) if link.startswith("rh_th")]
        on_thumb = np.isin(hand.surface_link_index.numpy(), links)
        return obj.signed_distance(hand.surface_points(pos, rot, coupling.expand(q))[:, on_thumb])[0]

    before, after = thumb_distance(u), thumb_distance(fitted)
    assert (-after).amax(1).max() <= config.power_thumb_max_penetration_m + 1e-9
    # The search's first try is the palm-plane thumb: the chosen one is never farther from the surface ...
    assert torch.all(after.amin(1) <= before.amin(1).clamp_min(0) + 1e-9)
    # ... and on the side of a 120 mm can it ends within a few millimetres of it (the palm-plane thumb: > 1 cm away
    # or inside).
    assert after.amin(1).median() < 0.005
    # The opposed thumb of the default pre-shape starts deep inside such a can.
    opposed = u.clone()
    for name in THUMB_JOINT_NAMES:
        opposed[:, coupling.reduced_names.index(name)] = InitConfig().preshape.get(name, 0.0)
    assert (-thumb_distance(opposed)).amax(1).min() > 0.01


@pytest.mark.parametrize("override, message", [
    ({"power_fraction": 1.5}, "power_fraction"),
    ({"power_curl": -0.1}, "power_curl"),
    ({"power_min_radius_m": 0.0}, "power_min_radius_m"),
    ({"power_thumb_tries": 0}, "power_thumb_tries"),
    ({"power_thumb": {"rh_FFJ3": 0.0}}, "power_thumb: not thumb joints: rh_FFJ3"),
])
def test_bad_power_settings_name_the_key(override, message):
    with pytest.raises(ValueError, match=f"planner.init_config.{message}"):
        InitConfig(**override)
