"""Soak: a mixed load at a fixed request rate over HTTP, with per-endpoint p50/p95/p99.

Run from the repository root (never in the test suite)::

    nice .venv/bin/python bench/soak.py                         # starts `ledgerflow serve --demo` in a temp dir
    nice .venv/bin/python bench/soak.py --rate 12.5 --seconds 300
    .venv/bin/python bench/soak.py --url http://127.0.0.1:8000  # a service already running the demo

The load is open-loop: request *i* is due at ``start + i / rate`` whatever the previous answers
took (a closed loop would slow down with the server and hide its queueing). Requests run on a
pool of ``--workers`` threads, one HTTP client per thread. The mix follows a day of the demo
firm: SALES starts account openings and reads what it initiated, OPS reads its todo and
approves the openings (the approval moves the flow into its 24-hour cooling-off pause),
administrators read the monitoring board and the instance list, everyone opens instance
details and timelines, and the leads list and business types are read.

Printed per endpoint: requests, errors (status >= 400 other than the expected ones), service
time (send → answer) p50/p95/p99 in ms, and the same for the schedule lag (due → sent); then
each endpoint's p99 against the 100 ms target and against the ``GET /health`` p99 of the same
run (the floor of the HTTP stack on this machine).
"""
from __future__ import annotations

import argparse
import itertools
import math
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench.common import cpu_model
from interfaces.demo import DEMO_PASSWORD

OPENING = {"company_name": "压测机构", "uscc": "91350100M000100Y43", "legal_representative": "王",
           "contact_phone": "13812345678"}
# One round of the mix (weights = how often each appears); a round is shuffled once per run.
MIX = (["start"] * 2 + ["todo"] * 3 + ["approve"] * 2 + ["detail"] * 3 + ["timeline"] * 2 + ["initiated"] * 2
       + ["board"] + ["monitor_list"] * 2 + ["leads"] + ["business_types"] + ["health"])
TARGET_MS = 100.0


class Load:
    def __init__(self, base: str, workers: int):
        self.base = base
        self.local = threading.local()
        self.tokens: dict[str, dict[str, str]] = {}
        self.instances: list[str] = []
        self.tasks: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.service: dict[str, list[float]] = defaultdict(list)
        self.lag: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.pool = ThreadPoolExecutor(max_workers=workers)

    def client(self) -> httpx.Client:
        c = getattr(self.local, "client", None)
        if c is None:
            c = self.local.client = httpx.Client(base_url=self.base, timeout=30)
        return c

    def login(self, *who: str) -> None:
        for login in who:
            r = self.client().post("/api/v1/auth/login", json={"login_name": login, "password": DEMO_PASSWORD})
            r.raise_for_status()
            self.tokens[login] = {"Authorization": f"Bearer {r.json()['access_token']}"}

    def request(self, label: str, method: str, path: str, who: str, **kw: Any) -> httpx.Response | None:
        t0 = time.perf_counter()
        try:
            r = self.client().request(method, path, headers=self.tokens.get(who), **kw)
        except httpx.HTTPError:
            self.errors[label] += 1
            return None
        with self.lock:
            self.service[label].append((time.perf_counter() - t0) * 1000)
        expected = {"approve": (409,)}.get(label, ())  # another OPS operator approved it first
        if r.status_code >= 400 and r.status_code not in expected:
            self.errors[label] += 1
        return r

    def pick(self, rng: random.Random) -> str | None:
        with self.lock:
            return rng.choice(self.instances) if self.instances else None

    def run(self, op: str, rng: random.Random) -> None:
        if op == "start":
            r = self.request("start", "POST", "/api/v1/flows/instances", "wang.fang", json={
                "definition": "account_opening", "subject": "institution", "title": f"压测开户 {rng.random():.6f}",
                "data": OPENING})
            if r is not None and r.status_code == 201:
                with self.lock:
                    self.instances.append(r.json()["id"])
        elif op == "todo":
            r = self.request("todo", "GET", "/api/v1/flows/todo", rng.choice(["zhao.lei", "sun.li"]),
                             params={"limit": 20})
            if r is not None and r.status_code == 200:
                with self.lock:
                    self.tasks += [(t["instance_id"], t["task_id"]) for t in r.json()["items"]
                                   if t["node"] == "ops_review"]
                    self.tasks = self.tasks[-200:]
        elif op == "approve":
            with self.lock:
                task = self.tasks.pop() if self.tasks else None
            if task is None:
                self.run("todo", rng)
                return
            self.request("approve", "POST", f"/api/v1/flows/instances/{task[0]}/tasks/{task[1]}/approve",
                         rng.choice(["zhao.lei", "sun.li"]), json={"comment": "资料齐全"})
        elif op in ("detail", "timeline"):
            instance = self.pick(rng)
            if instance is None:
                self.run("initiated", rng)
                return
            suffix = "/timeline" if op == "timeline" else ""
            self.request(op, "GET", f"/api/v1/flows/instances/{instance}{suffix}", "wang.fang")
        elif op == "initiated":
            self.request(op, "GET", "/api/v1/flows/initiated", "wang.fang", params={"limit": 20})
        elif op == "board":
            self.request(op, "GET", "/api/v1/flows/instances/board", "admin")
        elif op == "monitor_list":
            self.request(op, "GET", "/api/v1/flows/instances", "admin", params={"status": "running", "limit": 50})
        elif op == "leads":
            self.request(op, "GET", "/api/v1/leads", "admin", params={"limit": 50})
        elif op == "business_types":
            self.request(op, "GET", "/api/v1/forms/business-types", "wang.fang")
        elif op == "health":
            self.request(op, "GET", "/health", "")

    def soak(self, rate: float, seconds: float, seed: int) -> float:
        rng = random.Random(seed)
        mix = list(MIX)
        rng.shuffle(mix)
        total = int(rate * seconds)
        start = time.perf_counter() + 0.5
        futures = []
        for i, op in zip(range(total), itertools.cycle(mix), strict=False):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)

            def job(op: str = op, due: float = due, seed: int = rng.randrange(1 << 30)) -> None:
                with self.lock:
                    self.lag[op].append((time.perf_counter() - due) * 1000)
                self.run(op, random.Random(seed))
            futures.append(self.pool.submit(job))
            if (i + 1) % max(1, int(rate * 30)) == 0:
                print(f"  {i + 1}/{total} requests scheduled ({time.perf_counter() - start:.0f} s)", flush=True)
        for f in futures:
            f.result()
        return time.perf_counter() - start


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[max(0, math.ceil(p * len(s)) - 1)] if s else float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(base: str, process: subprocess.Popen | None, timeout: float = 600) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process is not None and process.poll() is not None:
            raise SystemExit(f"the service exited with {process.returncode}")
        try:
            if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise SystemExit("the service did not become ready")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--url", help="a running service with the demo loaded (default: start one)")
    parser.add_argument("--rate", type=float, default=12.5, help="requests per second (default 12.5)")
    parser.add_argument("--seconds", type=float, default=120, help="duration of the measured soak")
    parser.add_argument("--warmup", type=float, default=20, help="seconds of the same load before measuring")
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    process, tmp = None, None
    base = args.url
    if base is None:
        tmp = tempfile.TemporaryDirectory(prefix="ledgerflow-soak-")
        port = free_port()
        env = {**os.environ, "LEDGERFLOW_DATA_DIR": tmp.name, "LEDGERFLOW_PORT": str(port),
               "LEDGERFLOW_HOST": "127.0.0.1"}
        log = open(Path(tmp.name) / "serve.log", "w")  # noqa: SIM115 - closed with the directory
        process = subprocess.Popen([sys.executable, "-m", "interfaces.cli.main", "serve", "--demo"], env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        print(f"starting the demo service on {base} (log: {log.name})", flush=True)
    try:
        wait_ready(base, process)
        load = Load(base, args.workers)
        load.login("wang.fang", "zhao.lei", "sun.li", "admin")
        print(f"CPU: {cpu_model()}, {os.cpu_count()} cores; rate {args.rate}/s, warm-up {args.warmup:.0f} s, "
              f"soak {args.seconds:.0f} s, {args.workers} client threads", flush=True)
        if args.warmup > 0:
            load.soak(args.rate, args.warmup, args.seed + 1)
            load.service.clear()
            load.lag.clear()
            load.errors.clear()
        elapsed = load.soak(args.rate, args.seconds, args.seed)
        n = sum(len(v) for v in load.service.values())
        print(f"\n{n} requests in {elapsed:.1f} s = {n / elapsed:.2f}/s achieved\n")
        floor = pct(load.service.get("health", []), 0.99)
        print(f"{'endpoint':<16}{'n':>6}{'err':>5}{'p50':>9}{'p95':>9}{'p99':>9}{'lag p99':>9}"
              f"{'p99/100ms':>11}{'p99/health':>12}")
        for label in sorted(load.service):
            v = load.service[label]
            p99 = pct(v, 0.99)
            print(f"{label:<16}{len(v):>6}{load.errors.get(label, 0):>5}{pct(v, 0.5):>9.1f}{pct(v, 0.95):>9.1f}"
                  f"{p99:>9.1f}{pct(load.lag[label], 0.99):>9.1f}{p99 / TARGET_MS:>10.2f}×{p99 / floor:>11.1f}×")
        over = [label for label, v in load.service.items() if pct(v, 0.99) > TARGET_MS]
        print(f"\np99 over {TARGET_MS:.0f} ms: {', '.join(sorted(over)) or 'none'}")
        if load.service.get("detail") and load.service.get("todo"):
            ratio = pct(load.service["detail"], 0.95) / pct(load.service["todo"], 0.95)
            print(f"instance detail p95 / todo page p95: {ratio:.2f}× (target ≤ 2×)")
    finally:
        if process is not None:
            process.terminate()
            process.wait(30)
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    main()
