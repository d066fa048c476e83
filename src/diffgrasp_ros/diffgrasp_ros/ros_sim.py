"""``diffgrasp ros-sim``: the whole ROS 2 graph in one process with real rclpy over DDS, no robot or Gazebo needed.

Simulated calibrated depth cameras (``sim_cameras``, publishing what realsense2_camera publishes) → capture → fusion
→ inference → refinement → execution (MuJoCo UR10e + Shadow hand holding the same true object the cameras see) and
the orchestrator serving ``grasp_object`` (``diffgrasp_interfaces/action/GraspObject``). Every node is the one a robot
runs (``ros2 launch diffgrasp_bringup pipeline.launch.py``); only the camera driver and the execution backend differ.
``grasp_client`` works against it unchanged.
"""

from __future__ import annotations

import dataclasses
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import rclpy
import yaml
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.parameter import Parameter

from diffgrasp.config import load_config, to_dict
from diffgrasp.demo import FAST, DemoConfig
from diffgrasp_ros.capture_node import CaptureNode
from diffgrasp_ros.execution_node import ExecutionNode
from diffgrasp_ros.fusion_node import FusionNode
from diffgrasp_ros.inference_node import InferenceNode
from diffgrasp_ros.node_support import share_file
from diffgrasp_ros.orchestrator_node import OrchestratorNode
from diffgrasp_ros.refinement_node import RefinementNode
from diffgrasp_ros.sim_camera_node import SimCameraNode
from diffgrasp_ros.spin import spin_until_shutdown


@dataclasses.dataclass(frozen=True)
class SimOptions:
    """object: true object mesh (m); seed: camera noise, planner and IK seed; fast: the demo's coarse planner
    settings (``diffgrasp demo --fast``); planner_config: a planner YAML instead of the demo's planner settings."""

    object: str
    seed: int = 0
    object_xy: tuple[float, float] = (0.0, 0.0)
    fast: bool = False
    planner_config: str = ""


def demo_config(fast: bool) -> Any:
    """The embedded demo's configuration (``config/demo.yaml`` defaults, ``--fast`` overrides)."""
    return load_config(DemoConfig, None, FAST if fast else None)


def demo_planner_yaml(directory: Path, demo: Any) -> str:
    """The demo's planner settings written as a planner YAML for the refinement node."""
    path = directory / "planner.yaml"
    path.write_text(yaml.safe_dump(to_dict(demo.planner)))
    return str(path)


def build_nodes(options: SimOptions, workdir: Path) -> list[Any]:
    """Every node of the graph, parameters set as ``sim.launch`` would (lifecycle nodes not yet configured)."""
    cameras = share_file("config/cameras_sim.yaml")
    xy = [float(v) for v in options.object_xy]
    demo = demo_config(options.fast)
    planner = options.planner_config or demo_planner_yaml(workdir, demo)

    def params(**values: Any) -> dict[str, Any]:
        return {"parameter_overrides": [Parameter(k, value=v) for k, v in values.items()]}

    return [
        SimCameraNode(**params(cameras_config=cameras, object=options.object, object_xy=xy, seed=options.seed)),
        CaptureNode(**params(cameras_config=cameras, base_frame="world")),
        FusionNode(),
        InferenceNode(),
        RefinementNode(**params(planner_config=planner, rehearse_grasps=demo.verify_grasps,
                                rehearse_passes=demo.verify_passes, rehearse_shrink_m=demo.verify_shrink_m)),
        ExecutionNode(**params(backend="mujoco", sim_object=options.object, sim_object_xy=xy, seed=options.seed,
                               base_frame="world")),
        OrchestratorNode(**params(seed=options.seed)),
    ]


def run(options: SimOptions, domain_id: int | None = None, ready: Callable[[], None] | None = None,
        stop: threading.Event | None = None) -> None:
    """Start the graph, configure and activate the lifecycle nodes, call ``ready()``, spin until Ctrl-C, an external
    shutdown or ``stop`` is set."""
    rclpy.init(domain_id=domain_id)
    nodes: list[Any] = []
    executor = MultiThreadedExecutor(num_threads=8)
    try:
        with tempfile.TemporaryDirectory(prefix="diffgrasp-ros-sim-") as tmp:
            nodes = build_nodes(options, Path(tmp))
            for node in nodes:
                if hasattr(node, "autostart") and not node.autostart():
                    raise RuntimeError(f"node {node.get_name()} failed to configure: {node.last_error}")
                executor.add_node(node)
            if ready is not None:
                ready()
            spin_until_shutdown(executor, stop=stop)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        executor.shutdown()
        for node in nodes:
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()


__all__ = ["SimOptions", "build_nodes", "demo_config", "demo_planner_yaml", "run"]
