"""Plots for reports (matplotlib, no display needed)."""

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .output import write_atomic  # noqa: E402


def learning_curves(path, curves: dict, title: str):
    """One line per ``label -> [test accuracy per epoch]``; written atomically as PNG."""
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for label, history in curves.items():
        ax.plot(range(1, len(history) + 1), [100 * a for a in history], marker="o", label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    write_atomic(path, lambda f: f.write(buffer.getvalue()))
