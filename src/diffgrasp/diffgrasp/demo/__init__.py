"""The embedded demo (``diffgrasp demo``): simulated cameras → fusion → network → refinement → MuJoCo execution.

``run_pipeline`` runs it once and returns a :class:`PipelineReport`; :class:`DemoConfig` (mirrored by
``config/demo.yaml``) and the ``FAST`` preset configure it. Modules, one job each: ``config`` (DemoConfig, the demo's
planner, file paths), ``pipeline`` (run_pipeline and its stages), ``report`` (stage log, report.json), ``grasps``
(frame changes, table-aware initialisation), ``verify`` (the rehearsal on the perceived object), ``execute`` (the
MuJoCo run with the true object), ``figures`` (PNG/GIF outputs), ``progress`` (tqdm bars).
"""

from diffgrasp.demo.config import (
    DEFAULT_OBJECT,
    FAST,
    NOISE_MODELS,
    DemoConfig,
    default_object_path,
    demo_planner,
    resolve_config_path,
)
from diffgrasp.demo.pipeline import NO_CHECKPOINT_NOTE, run_pipeline
from diffgrasp.demo.report import NO_LIFTABLE_GRASP, REPORT_FORMAT, PipelineReport, StageReport

__all__ = ["DEFAULT_OBJECT", "FAST", "NOISE_MODELS", "NO_CHECKPOINT_NOTE", "NO_LIFTABLE_GRASP", "REPORT_FORMAT",
           "DemoConfig", "PipelineReport", "StageReport", "default_object_path", "demo_planner", "resolve_config_path",
           "run_pipeline"]
