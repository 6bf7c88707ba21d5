"""The resolution check under the parameter form: whether the form's reads resolve 0.5 G0
steps on the chosen instrument, and the setting that would (the advice ``labqc run ...
--check`` prints, labqc/procedures/resolution_check.py).

Recomputed a moment after the last edit (a single-shot timer restarted by every change),
so typing stays fluent; building a procedure and judging its reads is pure arithmetic
(about a millisecond), nothing is opened. The view keeps one fixed height whatever its
text, so the Run and Abort buttons below it never move; a long advice scrolls inside it.
It gives way (down to one line) only when the window is too short for everything.
"""
from __future__ import annotations

from typing import Callable

from PyQt6.QtCore import QSize, Qt, QTimer
from PyQt6.QtWidgets import QFrame, QLabel, QScrollArea, QSizePolicy

from labqc.instruments.target import Target
from labqc.procedures.base import LabqcProcedure, ParameterError
from labqc.procedures.resolution_check import model_of, resolution_advice
from labqc.resolution import Advice

WARNING_STYLE = "color: #b9770e;"  # amber: the run may go on, its steps will blur
NEUTRAL_STYLE = "color: palette(mid);"
DEBOUNCE_MS = 250
VISIBLE_LINES = 4


def advice_text(advice: list[Advice], model: str) -> tuple[str, bool]:
    """(text, warns): every read that does not resolve 0.5 G0 with its remedy, or one
    neutral line when all do."""
    bad = [a.sentence() for a in advice if not a.resolvable]
    if bad:
        return "\n".join(f"⚠ {line}" for line in bad), True
    if not advice:
        return f"Resolution ({model}): no read at a known voltage to judge", False
    return f"Resolution ({model}): 0.5 G0 steps are resolvable at every read ({len(advice)} checked)", False


class ResolutionView(QScrollArea):
    """A small wrapped label of the resolution advice, of fixed height.

    ``build`` returns the form's procedure without reporting anything (ParameterError
    when a value is not understood); ``target`` the instrument it would run on."""

    def __init__(self, build: Callable[[], LabqcProcedure], target: Callable[[], Target], parent=None) -> None:
        super().__init__(parent)
        self._build, self._target = build, target
        self.warns = False
        self.label = QLabel("")
        self.label.setWordWrap(True)
        self.label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # Wrapped text may grow in height, never widen the panel.
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)
        self.setWidget(self.label)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        line = self.label.fontMetrics().lineSpacing()
        # Its height never follows its text (sizeHint below); it only gives way, down to a
        # line, when the window is too short, so the panel's minimum height barely grows.
        self._hint = VISIBLE_LINES * line + 6
        self.setMinimumHeight(line)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(DEBOUNCE_MS)
        self.timer.timeout.connect(self.refresh)

    def sizeHint(self) -> QSize:
        return QSize(0, self._hint)  # the panel sets the width; the text wraps to it

    def schedule(self, *_) -> None:
        """Recompute once the edits pause."""
        self.timer.start()

    def refresh(self) -> None:
        """Recompute now."""
        self.timer.stop()
        try:
            target = self._target()
            model = model_of(target)
            proc = self._build()
            proc.validate()
            text, warns = advice_text(resolution_advice(proc, model), model)
        except (ParameterError, ValueError) as exc:
            # The form shows what is wrong; here only that nothing is judged yet.
            text, warns = f"Resolution: not judged until the parameters are valid ({exc})", False
        self.warns = warns
        self.label.setText(text)
        self.label.setToolTip(text)
        self.label.setStyleSheet(WARNING_STYLE if warns else NEUTRAL_STYLE)

    @property
    def text(self) -> str:
        return self.label.text()


__all__ = ["ResolutionView", "advice_text", "DEBOUNCE_MS"]
