"""The planner's default physics ranking (``physics_rank.scorer`` of the planner config, a
``diffgrasp.planning.scoring.GraspScorer``): the physics test's scene (``diffgrasp.sim.physics_test``), closed,
squeezed and pushed for many grasps at once.

``settle`` (``SettleSimulator``: batched ``mujoco.rollout`` of the test's ramps and pushes); ``scorer``
(``SettleScorer``: one object's simulator, its convex decomposition started in the background).
"""
