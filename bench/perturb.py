"""Perturbations of the last bits of the arithmetic, for ``--perturb`` of bench/planner.py and bench/demo_sweep.py.

Other machines differ from this one in SIMD width, BLAS/oneDNN kernels and thread count, and the planning pipeline is
chaotic in the last bits; a result measured once here says little. Each perturbation runs a case in a fresh process
(the ATen CPU capability is read when torch starts) with:

- ``cap-default`` / ``cap-avx2`` / ``cap-avx512``: ``ATEN_CPU_CAPABILITY`` (torch's kernels: none, AVX2, AVX-512);
- ``onednn-avx2``: ``ONEDNN_MAX_CPU_ISA=AVX2`` (oneDNN's kernels);
- ``threads-1`` / ``threads-2``: torch CPU threads (``OMP_NUM_THREADS``; the demo's ``torch_threads``);
- ``jitter``: the object mesh's vertices moved by up to 1e-7 m (uniform, seeded), a file written on another machine.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np


@dataclasses.dataclass(frozen=True)
class Perturbation:
    env: dict[str, str] = dataclasses.field(default_factory=dict)
    demo_overrides: dict[str, int] = dataclasses.field(default_factory=dict)
    jitter_m: float = 0.0


PERTURBATIONS: dict[str, Perturbation] = {
    "none": Perturbation(),
    "cap-default": Perturbation(env={"ATEN_CPU_CAPABILITY": "default"}),
    "cap-avx2": Perturbation(env={"ATEN_CPU_CAPABILITY": "avx2"}),
    "cap-avx512": Perturbation(env={"ATEN_CPU_CAPABILITY": "avx512"}),
    "onednn-avx2": Perturbation(env={"ONEDNN_MAX_CPU_ISA": "AVX2"}),
    "threads-1": Perturbation(env={"OMP_NUM_THREADS": "1"}, demo_overrides={"torch_threads": 1}),
    "threads-2": Perturbation(env={"OMP_NUM_THREADS": "2"}, demo_overrides={"torch_threads": 2}),
    "jitter": Perturbation(jitter_m=1e-7),
}


def parse(names: str) -> list[str]:
    """Comma-separated perturbation names → list; SystemExit naming the unknown ones."""
    chosen = [n for n in names.split(",") if n]
    unknown = sorted(set(chosen) - set(PERTURBATIONS))
    if unknown:
        raise SystemExit(f"--perturb: unknown {', '.join(unknown)}; known: {', '.join(PERTURBATIONS)}")
    return chosen


def jittered_mesh(path: Path, out_dir: Path, amplitude_m: float, seed: int = 0) -> Path:
    """A copy of the mesh file with every vertex moved by up to ``amplitude_m`` per axis (faces unchanged)."""
    import trimesh

    mesh = trimesh.load(path, force="mesh", process=False)
    mesh.vertices = mesh.vertices + np.random.default_rng(seed).uniform(-amplitude_m, amplitude_m, mesh.vertices.shape)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / path.name
    mesh.export(out)
    return out


__all__ = ["PERTURBATIONS", "Perturbation", "jittered_mesh", "parse"]
