"""Heat maps of DARTS architecture weights."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import torch


def plot_alphas(
    weights: Mapping[str, torch.Tensor], candidates: Mapping[str, Sequence[str]], path: str | Path
) -> Path:
    """One heat map per cell kind: rows are edges, columns candidate ops, colour the softmax weight."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = list(weights)
    fig, axes = plt.subplots(
        1,
        len(kinds),
        figsize=(4.5 * len(kinds), 0.35 * max(len(w) for w in weights.values()) + 2),
        squeeze=False,
    )
    for ax, kind in zip(axes[0], kinds):
        w = weights[kind].detach().cpu().numpy()
        im = ax.imshow(w, cmap="viridis", aspect="auto", vmin=0.0, vmax=max(float(w.max()), 1e-6))
        ax.set_title(f"{kind} cell")
        ax.set_xticks(range(len(candidates[kind])), candidates[kind], rotation=60, ha="right", fontsize=8)
        ax.set_yticks(range(len(w)), [f"edge {i}" for i in range(len(w))], fontsize=8)
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
