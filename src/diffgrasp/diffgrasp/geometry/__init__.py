"""Geometry: rotations (the one place quaternion order is converted) and object meshes."""
