"""Quarter-turn augmentation: the turned views equal a rendering of the turned object, references turn with it, and
the GraspLoss of a turned batch's predictions equals that of the same grasps unturned."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import trimesh
from test_training_pipeline import NET, synthetic_grasps

from diffgrasp.network.model import GraspPrediction
from diffgrasp.network.preprocessing import render_views
from diffgrasp_training.augment import quarter_turns, turn_batch, turn_matrices, turn_views
from diffgrasp_training.dataset import GraspDataset
from diffgrasp_training.generate import generate_dataset
from diffgrasp_training.objective import Objective
from diffgrasp_training.train_config import DatasetConfig, TrainConfig


def _asymmetric_mesh() -> trimesh.Trimesh:
    """An L of two boxes, off the origin: no symmetry a wrong turn could hide behind."""
    a = trimesh.creation.box([0.08, 0.02, 0.03])
    b = trimesh.creation.box([0.02, 0.05, 0.03])
    b.apply_translation([0.03, 0.035, 0.0])
    mesh = trimesh.util.concatenate([a, b])
    mesh.apply_translation([0.02, -0.01, 0.05])
    return mesh


@pytest.mark.parametrize("turns", [1, 2, 3])
def test_turned_views_are_the_turned_objects_rendering(turns):
    mesh = _asymmetric_mesh()
    views, centre = render_views(mesh, NET)
    turned = mesh.copy()
    turned.apply_transform(trimesh.transformations.rotation_matrix(turns * np.pi / 2, [0, 0, 1], point=centre))
    expected, centre2 = render_views(turned, NET)
    np.testing.assert_allclose(centre2, centre, atol=1e-9)
    got = turn_views(torch.from_numpy(views)[None], torch.tensor([turns]))[0].numpy()
    assert np.mean(np.abs(got - expected) < 1e-5) > 0.999  # edge pixels may flip on a ray grazing an edge
    assert not np.allclose(views, expected)  # the turn changed the views
    np.testing.assert_allclose(turn_matrices(torch.tensor([turns]), torch.float64)[0][:3, :3],
                               trimesh.transformations.rotation_matrix(turns * np.pi / 2, [0, 0, 1])[:3, :3],
                               atol=1e-12)


def test_references_turn_with_the_object_and_the_grasp_loss_undoes_the_turn(tmp_path: Path):
    cfg = DatasetConfig(procedural_shapes=2, procedural_val_fraction=0.0, grasps_per_object=3, table_samples=False,
                        seed=1)
    generate_dataset(tmp_path / "d", cfg, NET, grasp_fn=synthetic_grasps, progress=False)
    data = GraspDataset(tmp_path / "d", "train", NET)
    batch = data.batch(torch.tensor([0, 1]))
    turns = torch.tensor([1, 3])
    turned = turn_batch(batch, turns)
    rot = turn_matrices(turns)
    torch.testing.assert_close(turned["ref_position"], torch.einsum("kij,krj->kri", rot, batch["ref_position"]))
    torch.testing.assert_close(turned["ref_rotation"] @ batch["ref_rotation"].transpose(-1, -2),
                               rot[:, None].expand(-1, 3, -1, -1), atol=1e-6, rtol=0)
    assert torch.equal(turned["ref_joints"], batch["ref_joints"])

    # the references as predictions: turned (in the turned batch) or not, the GraspLoss is the same
    objective = Objective(TrainConfig(dataset=cfg), data, torch.device("cpu"))
    joints = torch.zeros(2, 3, 22)

    def loss(b):
        pred = GraspPrediction(b["ref_position"], torch.zeros(2, 3, 6), b["ref_rotation"], torch.zeros(2, 3, 18),
                               joints)
        return objective.grasp_loss(pred, b)[0]

    torch.testing.assert_close(loss(turned), loss(batch), rtol=1e-5, atol=1e-6)


def test_quarter_turns_depend_on_seed_step_and_rank_only():
    a = quarter_turns(64, seed=3, step=10, rank=0)
    assert torch.equal(a, quarter_turns(64, seed=3, step=10, rank=0))
    assert not torch.equal(a, quarter_turns(64, seed=3, step=11, rank=0))
    assert set(a.tolist()) == {0, 1, 2, 3}
    with pytest.raises(ValueError, match="num_views − 1 divisible by 4"):
        turn_views(torch.zeros(1, 4, 8, 8), torch.tensor([1]))
