"""What the bench shows while it runs: a live table and a progress bar.

On a terminal, rich's ``Live`` redraws the table of the rows so far above
a ``Progress`` bar (one step per migration); in a log or a pipe each
step is one time-stamped line instead.
"""

from __future__ import annotations

import time

from volmig_bench import report


class LiveReport:
    """The table with a progress line, redrawn while the bench runs."""

    def __init__(self, result: dict, total_steps: int, console=None):
        from rich.console import Console
        from rich.progress import BarColumn
        from rich.progress import Progress
        from rich.progress import TextColumn
        from rich.progress import TimeElapsedColumn

        self.result = result
        self.console = console or Console()
        self.progress = Progress(TextColumn('{task.description}'),
                                 BarColumn(), TextColumn(
                                     '{task.completed}/{task.total}'),
                                 TimeElapsedColumn(),
                                 console=self.console)
        self.task = self.progress.add_task('starting', total=total_steps)
        self._live = None

    def _render(self):
        from rich.console import Group

        return Group(report.render_table(self.result), self.progress)

    def __enter__(self) -> 'LiveReport':
        from rich.live import Live

        self._live = Live(self._render(), console=self.console,
                          refresh_per_second=4, transient=False)
        self._live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._live.update(self._render())
        self._live.__exit__(*exc)

    def step(self, description: str, advance: int = 0) -> None:
        self.progress.update(self.task, description=description,
                             advance=advance)
        if self._live:
            self._live.update(self._render())

    def add_row(self, row: dict) -> None:
        self.result['rows'].append(row)
        self.step(self.progress.tasks[0].description, advance=1)


class Reporter:
    """Progress on the terminal: a live table where there is one."""

    def __init__(self, result: dict, total_steps: int, console=None):
        from rich.console import Console

        self.console = console or Console()
        self.live = None
        if self.console.is_terminal:
            self.live = LiveReport(result, total_steps, self.console)
        self.result = result
        self.started = time.monotonic()

    def __enter__(self) -> 'Reporter':
        if self.live:
            self.live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.live:
            self.live.__exit__(*exc)

    def step(self, text: str) -> None:
        if self.live:
            self.live.step(text)
        else:
            self.console.print('[%5.1fs] %s' % (time.monotonic()
                                                - self.started, text),
                               highlight=False, markup=False)

    def note(self, text: str) -> None:
        self.result['notes'].append(text)
        if self.live:
            self.live.console.log(text)
        else:
            self.console.print('        note: %s' % text, highlight=False,
                               markup=False)

    def add_row(self, row: dict) -> None:
        if self.live:
            self.live.add_row(row)
        else:
            self.result['rows'].append(row)
            cells = report.row_cells(row)
            self.step('row: %s' % ' | '.join(cells))
