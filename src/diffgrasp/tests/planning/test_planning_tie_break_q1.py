"""Exact Q1 at the wider ranking distances is computed only where the physics score leaves the order open (issue 23):
non-finite scores and scores shared by several candidates; the values equal exact Q1 computed directly."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch

from diffgrasp.losses import exact_q1
from diffgrasp.planning.measure import RANKING_DISTANCES_M, Checked, Measured, tie_break_q1


def _contacts(rng: np.random.Generator, b: int, c: int = 12):
    """Contact candidates on a unit-ish sphere of radius 3 cm (inward normals), at distances 0–6 mm."""
    direction = rng.normal(size=(b, c, 3))
    direction /= np.linalg.norm(direction, axis=-1, keepdims=True)
    points = 0.03 * direction
    distance = rng.uniform(0.0, 0.006, size=(b, c))
    return points, -direction, distance


def test_only_tied_or_unranked_candidates_get_the_wider_levels():
    rng = np.random.default_rng(0)
    b = 6
    points, normals, distance = _contacts(rng, b)
    metrics = {"contact_distance": torch.as_tensor(distance), "contact_points": torch.as_tensor(points),
               "contact_normals": torch.as_tensor(normals)}
    measured = Measured(state=None, closed=None, metrics=metrics)
    valid = np.array([True, True, True, True, True, False])

    def fresh() -> Checked:
        return Checked(np.zeros(b), np.zeros(b), np.zeros(b), valid.copy(), np.zeros((len(RANKING_DISTANCES_M), b)),
                       np.zeros(b, int), np.zeros(b, bool), {})

    checked = fresh()
    ctx = SimpleNamespace(control=SimpleNamespace(budgeted=False),
                          obj=SimpleNamespace(center_of_mass=np.zeros(3), characteristic_length=0.03))
    score = np.array([0.5, np.inf, 0.7, 0.7, 0.3, np.inf])  # 1: unranked, 2 and 3: tied, 5: invalid
    tie_break_q1(ctx, measured, checked, score)

    def reference(i: int, level: int) -> float:
        near = np.abs(distance[i]) <= RANKING_DISTANCES_M[level]
        return exact_q1(points[i, near], normals[i, near], torque_scale=0.03, center=np.zeros(3)) \
            if near.sum() >= 2 else 0.0

    for i in range(b):
        for level in range(1, len(RANKING_DISTANCES_M)):
            expected = reference(i, level) if i in (1, 2, 3) else 0.0
            assert checked.q1[level, i] == expected, (i, level)
    assert (checked.q1[1:, [1, 2, 3]] > 0).any()  # the filled ones are not zero by accident
    assert not checked.q1[0].any()  # the first level is check_and_q1's, untouched here
    everything = fresh()
    tie_break_q1(ctx, measured, everything, None)  # no physics score: every valid candidate, no invalid one
    for i in range(b):
        for level in range(1, len(RANKING_DISTANCES_M)):
            assert everything.q1[level, i] == (reference(i, level) if valid[i] else 0.0), (i, level)
