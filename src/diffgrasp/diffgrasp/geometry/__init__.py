"""Geometry: rotations (the one place quaternion order is converted) and object meshes."""

from diffgrasp.geometry.mesh_validation import MeshValidationError
from diffgrasp.geometry.object_model import ObjectModel

__all__ = ["MeshValidationError", "ObjectModel"]
