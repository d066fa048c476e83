"""The physics test of grasps (design notes §7; DexGraspBench's "fc" protocol): the judge, never tuned to the planner.

``evaluate`` (``evaluate_grasps``: a grasp set, worker processes, resumable reports) → ``evaluation_report``
(``EvaluationReport``, ``GraspEvaluation``); ``evaluate_config`` (``EvaluateConfig``, = config/evaluate.yaml) and
``scene_params`` (the scene's physics numbers); ``prepared_object`` (mesh, convex pieces, inertial); ``hand_scene``
(floating Shadow hand + free object, MjSpec); ``trial`` (``GraspTester``: the test of one grasp); ``autoclose``
(test grasps closed until contact); ``render`` (PNG views of a grasp in the scene).
"""
