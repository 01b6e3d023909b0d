"""Training progress as Keras 3 prints it: `keras.utils.Progbar` driven the way its
`ProgbarLogger` callback drives it, for the runtime's `fit`.

`verbose=1` on a terminal redraws a bar inside each epoch (`12/32 ━━━━━━━━━━━━━━━━━━━━
1s 4ms/step - accuracy: 0.8125 - loss: 0.4312`); `verbose=2`, or output that is not a
terminal, prints one line per epoch (`32/32 - 1s - 4ms/step - ...`); `verbose=0` nothing.
Numbers and times are formatted exactly as Keras formats them.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Callable

BAR_WIDTH = 20
UPDATE_INTERVAL = 0.05  # seconds between redraws of a bar, as Keras' Progbar
BOLD, GREEN, WHITE, RESET = "\x1b[1m", "\x1b[32m", "\x1b[37m", "\x1b[0m"


def keras_number(value: float, *, absolute: bool = True) -> str:
    """A log value as Keras' Progbar shows it: four decimals above 1e-3, else four
    significant digits in exponent form. Keras compares `abs(value)` for its bar
    (`verbose=1`) but `value` itself for its one-line form (`verbose=2`)."""
    return f"{value:.4f}" if (abs(value) if absolute else value) > 1e-3 else f"{value:.4e}"


def keras_logs(logs: dict[str, float], *, absolute: bool = True) -> str:
    """` - name: value` for each log in Keras' order: training logs by name, then the
    validation logs by name."""
    ordered = sorted(k for k in logs if not k.startswith("val_")) + sorted(
        k for k in logs if k.startswith("val_"))
    return "".join(f" - {k}: {keras_number(logs[k], absolute=absolute)}" for k in ordered)


def keras_duration(seconds_per_step: float, unit: str = "step") -> str:
    """` 4ms/step`: Keras' `Progbar._format_time`."""
    if seconds_per_step >= 1 or seconds_per_step == 0:
        return f" {seconds_per_step:.0f}s/{unit}"
    if seconds_per_step >= 1e-3:
        return f" {seconds_per_step * 1000.0:.0f}ms/{unit}"
    return f" {seconds_per_step * 1000000.0:.0f}us/{unit}"


def keras_eta(seconds: float) -> str:
    if seconds > 3600:
        return "%d:%02d:%02d" % (seconds // 3600, (seconds % 3600) // 60, seconds % 60)
    if seconds > 60:
        return "%d:%02d" % (seconds // 60, seconds % 60)
    return "%ds" % seconds


class Progbar:
    """One epoch's progress over `target` steps, Keras' `Progbar` with every log shown
    as given (ProgbarLogger's setting: fit's logs are already running means). `dynamic`
    redraws one line in place through `write`; otherwise the final update is one line.
    `clock` is injectable so that tests can fix the times."""

    def __init__(self, target: int, write: Callable[[str], object], *, dynamic: bool,
                 clock: Callable[[], float] = time.time):
        self.target, self.write, self.dynamic, self.clock = target, write, dynamic, clock
        self.start = clock()
        self.last_update = 0.0
        self.after_first_step: float | None = None
        self.previous_width = 0

    def update(self, current: int, logs: dict[str, float], finalize: bool = False) -> None:
        now = self.clock()
        per_step = self._step_duration(current, now)
        if self.dynamic:
            if finalize or now - self.last_update >= UPDATE_INTERVAL:
                self._redraw(current, logs, finalize, now, per_step)
                self.last_update = now
        elif finalize:
            digits = int(math.log10(self.target)) + 1
            self.write(f"{current:{digits}d}/{self.target} - {now - self.start:.0f}s -"
                       f"{keras_duration(per_step)}{keras_logs(logs, absolute=False)}\n")

    def _redraw(self, current, logs, finalize, now, per_step) -> None:
        digits = int(math.log10(self.target)) + 1
        filled = int(BAR_WIDTH * current / self.target)
        count = f"{current:{digits}d}/{self.target}"
        bar = f"{BOLD}{count}{RESET} " + (f"{GREEN}{'━' * filled}{RESET}" if filled else "") \
            + f"{WHITE}{'━' * (BAR_WIDTH - filled)}{RESET}"
        when = f"{now - self.start:.0f}s" if finalize else keras_eta(per_step * (self.target - current))
        info = f" {BOLD}{when}{RESET}{keras_duration(per_step)}{keras_logs(logs)}"
        width = len(count) + 1 + BAR_WIDTH + len(info) - len(BOLD) - len(RESET)
        padding = " " * max(0, self.previous_width - width)
        self.write("\b" * self.previous_width + "\r" + bar + info + padding
                   + ("\n" if finalize else ""))
        self.previous_width = width

    def _step_duration(self, current: int, now: float) -> float:
        """Keras' estimate: the first step (compilation) is left out once there are more."""
        if not current:
            return 0.0
        if self.after_first_step is not None and current > 1:
            duration = (now - self.after_first_step) / (current - 1)
        else:
            duration = (now - self.start) / current
        if current == 1:
            self.after_first_step = now
        return duration


class ProgressLogger:
    """What `fit` prints, as Keras' ProgbarLogger: `Epoch 3/10` before each epoch when
    there are several, then the epoch's Progbar. `write` takes raw text."""

    def __init__(self, write: Callable[[str], object], *, dynamic: bool,
                 clock: Callable[[], float] = time.time):
        self.write, self.dynamic, self.clock = write, dynamic, clock
        self.bar: Progbar | None = None

    def epoch_begin(self, epoch: int, epochs: int, steps: int) -> None:
        if epochs > 1:
            self.write(f"Epoch {epoch + 1}/{epochs}\n")
        self.bar = Progbar(steps, self.write, dynamic=self.dynamic, clock=self.clock)

    def batch_end(self, step: int, logs: dict[str, float]) -> None:
        """`step` steps of the epoch are done; `logs` are their running means."""
        self.bar.update(step, logs)

    def epoch_end(self, logs: dict[str, float]) -> None:
        self.bar.update(self.bar.target, logs, finalize=True)


def progress_logger(verbose: int, log: Callable[[str], object] | None) -> ProgressLogger | None:
    """The logger `fit(verbose=..., log=...)` asks for: None when silent (`verbose=0` or
    no `log`); a redrawn bar for `verbose=1` when `log` is `print` and standard output
    is a terminal; else one line per epoch, each handed to `log`."""
    if not verbose or log is None:
        return None
    if verbose == 1 and log is print and sys.stdout.isatty():
        return ProgressLogger(_terminal_write, dynamic=True)
    return ProgressLogger(_lines_to(log), dynamic=False)


def _terminal_write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _lines_to(log: Callable[[str], object]) -> Callable[[str], None]:
    def write(text: str) -> None:
        for line in text.splitlines():
            log(line)

    return write
