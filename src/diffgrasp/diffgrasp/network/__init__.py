"""The grasp network: multi-view object-centred depth → grasps (design notes §6, Network).

``predict_grasps`` is the entry point; ``GraspNet`` the model, ``NetworkConfig`` its configuration,
``save_checkpoint``/``load_checkpoint`` validated checkpoints, ``render_views`` the preprocessing and
``min_of_n_loss`` the supervised training loss.
"""

from diffgrasp.network.checkpoint import (
    CheckpointError,
    LoadedCheckpoint,
    default_checkpoint_path,
    load_checkpoint,
    save_checkpoint,
)
from diffgrasp.network.min_of_n import MinOfNWeights, min_of_n_loss, pairwise_grasp_distance
from diffgrasp.network.model import GraspNet, GraspPrediction
from diffgrasp.network.network_config import NetworkConfig
from diffgrasp.network.predict import GraspPredictor, predict_grasps, prediction_to_grasps
from diffgrasp.network.preprocessing import render_views

__all__ = [
    "CheckpointError", "GraspNet", "GraspPrediction", "GraspPredictor", "LoadedCheckpoint", "MinOfNWeights",
    "NetworkConfig", "default_checkpoint_path", "load_checkpoint", "min_of_n_loss", "pairwise_grasp_distance",
    "predict_grasps", "prediction_to_grasps", "render_views", "save_checkpoint",
]
