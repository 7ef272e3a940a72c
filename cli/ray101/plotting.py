"""The one plotting style: matplotlib without a display, figures saved as PNG bytes.

Used by the comparison's picture (``render``); the benchmarks' report draws with it too.
"""

from __future__ import annotations

import io
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def pyplot() -> ModuleType:
    """``matplotlib.pyplot`` on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def png(fig: Figure, dpi: int = 110, tight: bool = False) -> bytes:
    """The figure as PNG bytes (the same data gives the same bytes); closes the figure."""
    buf = io.BytesIO()
    if tight:
        fig.tight_layout()
    fig.savefig(buf, format="png", dpi=dpi)
    pyplot().close(fig)
    return buf.getvalue()
