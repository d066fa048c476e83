"""Write the large-round development set (issue 21) to src/diffgrasp/tests/data/large_round/.

Objects wider than a fingertip grasp spans, where power / enveloping grasps are needed: procedural cylinders
(diameter 80-130 mm, height 100-250 mm) and spheres (90-130 mm) made here with trimesh, and two YCB objects copied
from ../shared/objects (053 mini soccer ball, 065-j cup; CC BY 4.0, attribution in the folder's README). Frames as
the YCB set's: metres, z up, resting on z = 0, centred in x and y. Also writes splits.json ({"large_round": names})
for ``bench/planner.py --objects-dir``.

Usage: ``.venv/bin/python scripts/make_large_round_set.py [--shared ../shared] [--out DIR]`` (idempotent: the same
bytes each run)
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import trimesh

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "src" / "diffgrasp" / "tests" / "data" / "large_round"
CYLINDERS_MM = [(80, 100), (90, 250), (102, 140), (121, 173), (130, 200)]  # (diameter, height)
SPHERES_MM = [90, 110, 130]
YCB = ["053_mini_soccer_ball", "065-j_cups"]
README = """# Large-round development set (issue 21)

Made by `scripts/make_large_round_set.py`; do not edit by hand. Metres, z up, resting on z = 0, centred in x and y.

- `cylinder_d<D>_h<H>.obj`: procedural cylinders, diameter D mm, height H mm (trimesh, 64 sections).
- `sphere_d<D>.obj`: procedural spheres, diameter D mm (trimesh icosphere, 3 subdivisions: 1280 faces).
- `053_mini_soccer_ball.obj`, `065-j_cups.obj`: copied from the development objects (`../shared/objects`), which are
  modified (repaired, decimated) meshes of the YCB Object and Model Set: B. Calli, A. Walsman, A. Singh,
  S. Srinivasa, P. Abbeel, A. M. Dollar, "The YCB object and model set: Towards common benchmarks for manipulation
  research", ICAR 2015. Licence CC BY 4.0; these copies are modified versions of the originals.
"""


def _rest(mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    lo, hi = mesh.bounds
    mesh.apply_translation([-(lo[0] + hi[0]) / 2, -(lo[1] + hi[1]) / 2, -lo[2]])
    return mesh


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    names = []
    for d, h in CYLINDERS_MM:
        names.append(f"cylinder_d{d}_h{h}")
        mesh = _rest(trimesh.creation.cylinder(radius=d / 2000, height=h / 1000, sections=64))
        mesh.export(out / f"{names[-1]}.obj", file_type="obj")
    for d in SPHERES_MM:
        names.append(f"sphere_d{d}")
        mesh = _rest(trimesh.creation.icosphere(subdivisions=3, radius=d / 2000))
        mesh.export(out / f"{names[-1]}.obj", file_type="obj")
    for name in YCB:
        shutil.copyfile(args.shared / "objects" / f"{name}.obj", out / f"{name}.obj")
        names.append(name)
    for name in names:
        mesh = trimesh.load(out / f"{name}.obj", force="mesh")
        assert mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0, name
    (out / "splits.json").write_text(json.dumps({"large_round": names}, indent=1) + "\n")
    (out / "README.md").write_text(README)
    print(f"{len(names)} objects in {out}")


if __name__ == "__main__":
    main()
