"""Helpers shared by the benchmarks (never imported by the service or the tests)."""
from __future__ import annotations

import gc
import math
import platform
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


@contextmanager
def postgres_url(url: str | None) -> Iterator[tuple[str, bool]]:
    """(url, embedded): the given server, or an embedded PostgreSQL in a temp dir for the block."""
    if url:
        yield url, False
        return
    from infrastructure.engines.embedded import EmbeddedPostgres, quiet_platformdirs_warning

    quiet_platformdirs_warning()
    with tempfile.TemporaryDirectory(prefix="ledgerflow-bench-") as tmp:
        server = EmbeddedPostgres(Path(tmp))
        try:
            yield server.start(), True
        finally:
            server.stop()


@dataclass
class Series:
    """One timed query: its call (returns a row count or the rows) and the nanoseconds of each run."""
    label: str
    call: Callable[[random.Random], Any]
    ns: list[int] = field(default_factory=list)
    rows: int = 0

    def pct(self, p: float) -> float:
        s = sorted(self.ns)
        return s[max(0, math.ceil(p * len(s)) - 1)] / 1e6 if s else float("nan")


def run_interleaved(series: list[Series], warmup: int, iterations: int, seed: int) -> None:
    """Warm-up rounds, then ``iterations`` timed rounds; each round runs every series once in a
    shuffled order so all of them see the same cache and server conditions (GC paused)."""
    rng = random.Random(seed)
    order = list(series)
    for _ in range(warmup):
        for s in order:
            s.call(rng)
    gc.collect()
    gc.disable()
    try:
        for _ in range(iterations):
            rng.shuffle(order)
            for s in order:
                t0 = time.perf_counter_ns()
                n = s.call(rng)
                s.ns.append(time.perf_counter_ns() - t0)
                s.rows += n if isinstance(n, int) else len(n)
    finally:
        gc.enable()
