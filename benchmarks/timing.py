"""What the benchmark scripts share for timing (imported as ``timing``: a script's own folder is
on ``sys.path`` when it runs as ``python benchmarks/<script>.py``)."""

import time
from collections.abc import Callable


def calibrate(run: Callable[[int], object], seconds: float) -> int:
    """A size for ``run(size)`` that takes about ``seconds``: grow 4x until one call takes
    over 0.2 s, then scale."""
    size = 16
    while True:
        start = time.perf_counter()
        run(size)
        elapsed = time.perf_counter() - start
        if elapsed > 0.2:
            return max(1, int(size * seconds / elapsed))
        size *= 4
