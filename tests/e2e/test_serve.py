"""Command 1 of the README: `ledgerflow serve --demo` on a fresh data directory."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_starts_embedded_engines_with_demo_data_and_stops_cleanly(tmp_path: Path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGERFLOW_")}
    env.update(LEDGERFLOW_DATA_DIR=str(tmp_path / "var"), LEDGERFLOW_PORT=str(port))
    cli = Path(sys.executable).with_name("ledgerflow")
    proc = subprocess.Popen([str(cli), "serve", "--demo"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        ready = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                ready = httpx.get(f"{base}/ready", timeout=2)
                if ready.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        assert ready is not None and ready.json()["checks"] == {"postgres": "ok", "redis": "ok", "clickhouse": "ok"}
        auth = {"Authorization": "Bearer dev-admin-token-change-me"}
        head = max(p["head"] for p in httpx.get(f"{base}/api/v1/projections", headers=auth).json())
        listed = httpx.get(f"{base}/api/v1/access/departments", params={"wait_for_position": head}, headers=auth)
        assert {d["code"] for d in listed.json()["items"]} >= {"HQ", "SH01", "BJ01", "NETFIN"}
    finally:
        proc.send_signal(signal.SIGINT)
        output = proc.communicate(timeout=60)[0]
    assert proc.returncode == 0, output
    # The embedded PostgreSQL was stopped with the service.
    assert not (tmp_path / "var" / "postgres" / "postmaster.pid").exists(), output
