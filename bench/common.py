"""Helpers shared by the benchmarks (never imported by the service or the tests)."""
from __future__ import annotations

import platform
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


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
