"""Table samples: each object also rests on a table in a stable pose (z = 0, +z up), as the demo's fused frame has
it, and its reference grasps are planned with that support plane."""

from __future__ import annotations

import dataclasses
import json
import types

import numpy as np
import pytest
import trimesh
from test_training_pipeline import NET, synthetic_grasps

from diffgrasp_training.generate import PlannerGrasps, generate_dataset
from diffgrasp_training.shapes import make_shape
from diffgrasp_training.shards import TABLE_PLANE, rest_on_table
from diffgrasp_training.train_config import SHAPE_KINDS, DatasetConfig


def _support_polygon_holds(mesh: trimesh.Trimesh) -> bool:
    """The centre of mass lies over the convex hull of the contact points with the table (quasi-static balance)."""
    from scipy.spatial import ConvexHull

    contact = mesh.vertices[mesh.vertices[:, 2] < 1e-6][:, :2]
    if len(contact) < 3:
        return False
    hull = ConvexHull(contact)
    return bool(np.all(hull.equations[:, :2] @ mesh.center_mass[:2] + hull.equations[:, 2] <= 1e-9))


@pytest.mark.parametrize("index", range(len(SHAPE_KINDS)))
def test_rest_on_table_puts_each_kind_in_a_stable_pose(index):
    _, mesh = make_shape(index, SHAPE_KINDS, (0.02, 0.06), 0.1, seed=11)
    placed = rest_on_table(mesh, seed=index)
    assert abs(placed.bounds[0, 2]) < 1e-9  # touching the table, nothing below it
    np.testing.assert_allclose((placed.bounds[0, :2] + placed.bounds[1, :2]) / 2, 0, atol=1e-9)
    assert placed.volume == pytest.approx(mesh.volume, rel=1e-6)  # a rigid motion of the same object
    if SHAPE_KINDS[index] not in ("sphere", "capsule", "cylinder", "torus"):  # rolling or ring-shaped: no polygon
        assert _support_polygon_holds(placed)
    np.testing.assert_array_equal(rest_on_table(mesh, seed=index).vertices, placed.vertices)


def test_generation_adds_table_samples_planned_with_the_support_plane(tmp_path):
    calls = []

    def recording(mesh_path, k, seed, support_plane=None):
        calls.append((trimesh.load(mesh_path, force="mesh").bounds[0, 2], support_plane))
        return synthetic_grasps(mesh_path, k, seed)

    cfg = DatasetConfig(procedural_shapes=2, procedural_val_fraction=0.5, grasps_per_object=2, seed=4)
    index = json.loads(generate_dataset(tmp_path / "d", cfg, NET, grasp_fn=recording, progress=False).read_text())
    names = [e["name"] for e in index["objects"]]
    assert names[2:] == [f"{n}_table" for n in names[:2]]
    assert [e["split"] for e in index["objects"]] == ["train", "val", "train", "val"]
    assert [e["support_plane"] for e in index["objects"]] == [None, None, list(TABLE_PLANE), list(TABLE_PLANE)]
    assert [c[1] for c in calls] == [None, None, TABLE_PLANE, TABLE_PLANE]
    assert all(abs(z) < 1e-9 for z, plane in calls if plane)  # the planned mesh rests on z = 0
    assert len({e["shard"] for e in index["objects"]}) == 4  # the table samples are other objects, not copies


def test_planner_grasps_plan_table_samples_with_the_support_plane(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr("diffgrasp_training.generate.plan_grasps",
                        lambda mesh_path, k, seed, config, device: seen.append(config) or types.SimpleNamespace(
                            grasps=()))
    fn = PlannerGrasps()
    fn(tmp_path / "m.obj", 2, 0)
    fn(tmp_path / "m.obj", 2, 0, support_plane=TABLE_PLANE)
    assert seen[0] == fn.planner and seen[1] == dataclasses.replace(fn.planner, support_plane=TABLE_PLANE)


def test_the_training_loss_keeps_the_hand_above_a_table_samples_table(tmp_path):
    """GraspLoss of a table sample gains the planner's support-plane term: positive for a hand below the table, zero
    high above it, decreasing as the hand rises; free objects get none."""
    import torch

    from diffgrasp.network.model import GraspPrediction
    from diffgrasp_training.dataset import GraspDataset
    from diffgrasp_training.objective import Objective
    from diffgrasp_training.train_config import TrainConfig

    cfg = DatasetConfig(procedural_shapes=1, procedural_val_fraction=0.0, grasps_per_object=2, scaled_copies=0,
                        seed=2)
    generate_dataset(tmp_path / "d", cfg, NET, grasp_fn=synthetic_grasps, progress=False)
    data = GraspDataset(tmp_path / "d", "train", NET)
    assert torch.isnan(data.support_planes[0]).all()
    torch.testing.assert_close(data.support_planes[1], torch.tensor(TABLE_PLANE))
    objective = Objective(TrainConfig(dataset=cfg), data, torch.device("cpu"))
    batch = data.batch(torch.tensor([0, 1]))

    def loss_at(height: float, which: int) -> tuple[torch.Tensor, dict, torch.Tensor]:
        """Palm ``height`` m above the table (in the table sample's frame), fingers straight, palm facing down."""
        z = torch.tensor(height, requires_grad=True)
        position = torch.zeros(2, 1, 3)
        position = position + torch.stack([torch.zeros(()), torch.zeros(()), z]) - batch["centres"][:, None]
        rotation = torch.diag(torch.tensor([1.0, -1.0, -1.0])).expand(2, 1, 3, 3)
        pred = GraspPrediction(position, torch.zeros(2, 1, 6), rotation, torch.zeros(2, 1, 18), torch.zeros(2, 1, 22))
        one = {k: v[which:which + 1] for k, v in batch.items()}
        total, terms = objective.grasp_loss(GraspPrediction(*(t[which:which + 1] for t in pred)), one)
        return total, terms, z

    below, terms, z = loss_at(-0.05, which=1)
    assert float(terms["support_plane"].detach()) > 0.1  # metres of summed violation: many skin points under the table
    below.backward()
    assert float(z.grad) < 0  # rising lowers the loss
    _, terms_high, _ = loss_at(0.5, which=1)
    assert float(terms_high["support_plane"].detach()) == 0.0
    _, free_terms, _ = loss_at(-0.05, which=0)
    assert "support_plane" not in free_terms
