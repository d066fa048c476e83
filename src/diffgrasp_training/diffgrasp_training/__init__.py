"""diffgrasp_training: trains the grasp network with the core's loss library (no rclpy).

Entry points: ``diffgrasp-train`` (pip) and ``ros2 run diffgrasp_training train`` (colcon), both ``cli:main``.
"""
