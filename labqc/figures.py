"""Figures shared by `labqc analyze` (one file) and its pooled analysis (many runs): the
2-D correlation histogram, and writing a figure to PNG. matplotlib is imported only when a
figure is drawn.
"""
from __future__ import annotations

from pathlib import Path


def correlation_figure(edges, c, title: str):
    """A 2-D correlation histogram ``c`` on ``edges`` (G/G0) as a figure: red where two levels
    occur in the same cycles, blue where they exclude each other."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    ax.set_facecolor("0.85")  # grey: bins with no defined correlation (NaN)
    mesh = ax.pcolormesh(edges, edges, c.T, cmap="RdBu_r", vmin=-1.0, vmax=1.0, rasterized=True)
    fig.colorbar(mesh, ax=ax, label="correlation")
    ax.set_xlabel("G/G0")
    ax.set_ylabel("G/G0")
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=10)
    return fig


def save_figure(fig, path: Path) -> Path:
    """Write ``fig`` as a PNG at ``path`` (its folder made if need be) and close it."""
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
