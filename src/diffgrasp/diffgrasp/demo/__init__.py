"""The embedded demo (``diffgrasp demo``): simulated cameras → fusion → network → refinement → MuJoCo execution.

``run_pipeline`` runs it once and returns a :class:`PipelineReport`; :class:`DemoConfig` (mirrored by
``config/demo.yaml``) and the ``FAST`` preset configure it. The stage helpers live in the submodules:
``diffgrasp.demo.grasps`` (frame changes, table-aware initialisation), ``diffgrasp.demo.verify`` (the rehearsal on
the perceived object) and ``diffgrasp.demo.figures`` (PNG/GIF outputs).
"""

from diffgrasp.demo.config import FAST, NOISE_MODELS, DemoConfig
from diffgrasp.demo.pipeline import (
    DEFAULT_OBJECT,
    NO_CHECKPOINT_NOTE,
    NO_LIFTABLE_GRASP,
    PipelineReport,
    StageReport,
    default_object_path,
    resolve_config_path,
    run_pipeline,
)

__all__ = ["DEFAULT_OBJECT", "FAST", "NOISE_MODELS", "NO_CHECKPOINT_NOTE", "NO_LIFTABLE_GRASP", "DemoConfig",
           "PipelineReport", "StageReport", "default_object_path", "resolve_config_path", "run_pipeline"]
