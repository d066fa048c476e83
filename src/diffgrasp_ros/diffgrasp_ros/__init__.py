"""diffgrasp ROS 2 layer: thin rclpy nodes over the ROS-free core, and ROS-free message conversions.

``conversions`` and ``sensor_conversions`` never import rclpy: they read any message with the right attributes (rclpy or
rosbags objects) and build messages through a ``MessageFactory`` (``RclpyFactory`` on a robot, ``RosbagsFactory`` in
tests and offline tools).
"""
