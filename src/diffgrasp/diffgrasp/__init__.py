"""diffgrasp: differentiable multi-view grasp planning for the Shadow Dexterous Hand (ROS-free core).

Glossary used in every docstring: B grasps, J joints, L links, C contact candidates, P points, V views.
Units are SI (metres, radians, seconds, newtons, kilograms); quaternions in files and messages are xyzw.
Subpackages are imported explicitly (``from diffgrasp.hand import ShadowHand``); nothing heavy is imported here.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
