"""Progress of a benchmark run on stderr: timings done of the total, elapsed time and an
estimate of the time left. On a terminal, a bar redrawn in place; elsewhere (a log file, CI)
one line now and then, so a log stays readable."""

from __future__ import annotations

import shutil
import time
from typing import Callable, Optional, TextIO


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes = f"{rest // 60:02d}m" if hours else f"{rest // 60}m"
    return f"{hours}h{minutes}{rest % 60:02d}s" if hours else f"{minutes}{rest % 60:02d}s"


class Progress:
    """Counts ``total`` steps: ``advance(label)`` after each one, ``close()`` at the end."""

    BAR_WIDTH = 24
    REDRAW_S = 0.2  # at most this often on a terminal
    LINE_EVERY_S = 30.0  # one line this often elsewhere

    def __init__(self, total: int, stream: Optional[TextIO],
                 clock: Callable[[], float] = time.monotonic):
        self.total, self.done, self.stream, self.clock = total, 0, stream, clock
        self.started = clock()
        self.terminal = stream is not None and stream.isatty()
        self.last_shown: Optional[float] = None
        self.label = ""
        self.width = 0  # of the bar line on screen, to blank it out

    def status(self) -> str:
        elapsed = self.clock() - self.started
        # Steps differ in cost (a GPT-2 generation against a layer norm), but every round runs
        # the same ones, so after a round the average is a fair guide.
        eta = elapsed / self.done * (self.total - self.done) if self.done else None
        share = self.done / self.total if self.total else 1.0
        text = (f"{self.done}/{self.total} timings ({100 * share:.0f}%), "
                f"{_duration(elapsed)} elapsed, ETA {_duration(eta) if eta is not None else '?'}")
        if self.terminal:
            filled = int(round(self.BAR_WIDTH * share))
            text = f"[{'#' * filled}{'.' * (self.BAR_WIDTH - filled)}] {text}"
        return f"{text}  {self.label}" if self.label else text

    def advance(self, label: str = "") -> None:
        self.done += 1
        self.label = label
        now = self.clock()
        every = self.REDRAW_S if self.terminal else self.LINE_EVERY_S
        if self.done == self.total or self.last_shown is None or now - self.last_shown >= every:
            self._show()

    def close(self) -> None:
        if self.terminal and self.last_shown is not None and self.stream is not None:
            print(file=self.stream, flush=True)
            self.last_shown = None

    def _blank(self) -> None:
        if self.terminal and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.width = 0

    def _show(self) -> None:
        if self.stream is None:
            return
        self.last_shown = self.clock()
        line = self.status()
        if self.terminal:
            self._blank()
            line = line[:shutil.get_terminal_size().columns - 1]  # a wrapped line is never erased
            self.stream.write(line)
            self.width = len(line)
            self.stream.flush()
        else:
            print("bench: " + line, file=self.stream, flush=True)
