"""Picture of planned grasps: the physics test's three-view render of each of the top grasps, stacked in one PNG."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from diffgrasp.grasps import Grasp
from diffgrasp.io import atomic_write


def render_grasps(mesh_path: str | os.PathLike, grasps: list[Grasp], output: str | os.PathLike, top: int = 4,
                  scale: float = 1.0) -> Path:
    """Render the first ``top`` grasps (hand at the grasp around the object, three views each) into ``output``."""
    from diffgrasp.sim.evaluate import prepare_object
    from diffgrasp.sim.evaluate_config import EvaluateConfig
    from diffgrasp.sim.grasp_test import Phases
    from diffgrasp.sim.render_grasp import render_grasp_png

    if not grasps:
        raise ValueError("render: no grasps to render")
    config = EvaluateConfig()
    prepared = prepare_object(mesh_path, scale, config, progress=False)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, grasp in enumerate(grasps[:top]):
            m = grasp.metrics
            title = (f"grasp {i}: Q1 {m.get('q1_exact', float('nan')):.3f}, "
                     f"penetration {m.get('penetration_m', float('nan')) * 1e3:.2f} mm, "
                     f"{m.get('touching_fingers', '?')} fingers touching")
            path = render_grasp_png(Path(tmp) / f"{i}.png", prepared, Phases.from_grasp(grasp), config, title)
            rows.append(np.asarray(Image.open(path).convert("RGB")))
    width = max(r.shape[1] for r in rows)
    canvas = np.full((sum(r.shape[0] for r in rows), width, 3), 255, dtype=np.uint8)
    y = 0
    for r in rows:
        canvas[y:y + r.shape[0], :r.shape[1]] = r
        y += r.shape[0]
    return atomic_write(output, lambda p: Image.fromarray(canvas).save(p, format="PNG"))
