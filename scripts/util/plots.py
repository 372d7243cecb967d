"""Plots for reports (matplotlib, no display needed)."""

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from .output import write_atomic  # noqa: E402


def learning_curves(path, curves: dict, title: str):
    """One line per ``label -> [test accuracy per epoch]``; written atomically as PNG."""
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    # distinct markers, sizes and dashes: curves that are identical (fixed and rtl) stay visible
    styles = [("o", "-", 9), ("s", "--", 7), ("^", ":", 5), ("D", "-.", 4), ("v", "-", 3)]
    for (label, history), (marker, line, size) in zip(curves.items(), styles * len(curves)):
        ax.plot(range(1, len(history) + 1), [100 * a for a in history], marker=marker, linestyle=line,
                markersize=size, label=label)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    _save(fig, path)


def line_series(path, lines: dict, xlabel: str, ylabel: str, title: str, reference: float | None = None):
    """One line per ``label -> (xs, ys)``, and a dotted horizontal line at ``reference`` if given (a level to read
    the lines against); written atomically as PNG."""
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for label, (xs, ys) in lines.items():
        ax.plot(xs, ys, linewidth=1.2, label=label)
    if reference is not None:
        ax.axhline(reference, color="0.5", linestyle=":", linewidth=1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend()
    _save(fig, path)


def labelled_points(path, points: dict, xlabel: str, ylabel: str, title: str):
    """One point per ``label -> (x, y, filled)``, its label beside it (``filled`` False: a hollow marker,
    for a point whose ``x`` or ``y`` is an estimate); written atomically as PNG."""
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for label, (x, y, filled) in points.items():
        line, = ax.plot([x], [y], marker="o", markersize=8, linestyle="none",
                        markerfacecolor=None if filled else "none")
        ax.annotate(label, (x, y), xytext=(6, 4), textcoords="offset points", color=line.get_color())
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.margins(0.15)
    _save(fig, path)


def _save(fig, path):
    """Lay ``fig`` out, close it and write it to ``path`` as PNG, atomically."""
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    write_atomic(path, lambda f: f.write(buffer.getvalue()))


def pareto_points(path, points: dict, front: list, xlabel: str, ylabel: str, title: str):
    """Every ``label -> (x, y)`` as a hollow marker, the labels of ``front`` (by rising ``x``) filled and joined by
    a step line, each point labelled; written atomically as PNG."""
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    others = [xy for label, xy in points.items() if label not in front]
    if others:
        ax.plot(*zip(*others), marker="o", markersize=7, linestyle="none", markerfacecolor="none", color="0.5",
                label="dominated")
    if front:
        ax.plot(*zip(*(points[label] for label in front)), marker="o", markersize=8, drawstyle="steps-post",
                color="C3", label="Pareto front")
    for label, (x, y) in points.items():
        ax.annotate(label, (x, y), xytext=(5, 4), textcoords="offset points", fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.margins(0.1)
    ax.legend(fontsize=8)
    _save(fig, path)
