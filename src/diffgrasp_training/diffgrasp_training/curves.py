"""Training curves: TensorBoard scalars (rank 0) and a PNG of the loss history (matplotlib, written atomically)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from diffgrasp.io import atomic_write


class ScalarLog:
    """TensorBoard writer under ``out_dir/tb``; ``purge_step`` drops events a killed run wrote after its checkpoint."""

    def __init__(self, out_dir: Path, purge_step: int | None = None) -> None:
        # heavy (tensorboard, ~0.2 s): only rank 0 of `train` logs; `diffgrasp-train generate` and --help import this
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(out_dir / "tb"), purge_step=purge_step)

    def log(self, step: int, values: dict[str, float], prefix: str) -> None:
        for name, value in values.items():
            self.writer.add_scalar(f"{prefix}/{name}", value, step)

    def close(self) -> None:
        self.writer.flush()
        self.writer.close()


def plot_curves(history: list[dict[str, Any]], path: str | os.PathLike, title: str = "grasp network training",
                stage_step: int | None = None) -> Path:
    """PNG of the train loss (and its parts) and the val metrics against the step (log y axis); a dashed line marks
    ``stage_step`` (start of stage 2) when given."""
    # heavy (~0.3 s, as above); and choosing the Agg backend is process-wide, so it happens when a plot is drawn
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, prefix in zip(axes, ("train", "val"), strict=True):
        rows = [h for h in history if h.get("kind") == prefix]
        keys = sorted({k for h in rows for k in h if k not in ("step", "kind", "lr") and not k.startswith("term/")})
        for key in keys:
            pts = [(h["step"], h[key]) for h in rows if key in h and h[key] is not None and h[key] > 0]
            if pts:
                ax.plot(*zip(*pts, strict=True), label=key, marker="." if prefix == "val" else None)
        if stage_step:
            ax.axvline(stage_step, color="grey", linestyle="--", linewidth=1)
        ax.set_xlabel("step")
        ax.set_title(prefix)
        ax.set_yscale("log")
        if keys:
            ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    out = atomic_write(path, lambda p: fig.savefig(p, dpi=100, format="png"))
    plt.close(fig)
    return out


__all__ = ["ScalarLog", "plot_curves"]
