"""Timers: how many due timers the scheduler fires per second, and how late, beside the cost of
the same number of plain one-event commands in the same run.

Run from the repository root (never in the test suite)::

    .venv/bin/python bench/timers.py                    # 2,000 timers, embedded engines
    .venv/bin/python bench/timers.py --timers 5000

What it does, on embedded PostgreSQL and Redis with the real scheduler (Redis due queue, with
its PostgreSQL sweep):

  1. publishes a flow ``start → pause (--pause-seconds, 10) → end`` and starts ``--timers``
     instances as fast as it can (not timed): each leaves one pause timer in the due queue;
  2. waits until the first is due, then runs the scheduler's ``tick`` in a loop until every
     pause has ended; each firing (load, end the pause, finish the flow: 3 events, one
     transaction) is timestamped, so it reports firings per second and the lateness of each
     (fired − due) p50/p95/p99. With the default 10 s pause the timers fall due at the rate they
     were started, so lateness is the scheduler's own; ``--pause-seconds 1`` makes them all due
     before the first tick (a backlog), which measures the firing rate the scheduler sustains;
  3. baseline: the same number of plain commands that each load an instance and append one
     event (``remark``), timed the same way.

Targets (issue "Time, rules and notifications"): >= 500 firings/s, p99 lateness < 2 s.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

OPENING = {"name": "王五", "id_number": "11010519491231002X", "phone": "13812345678",
           "bank_card": "6222021234567890128", "risk_level": "C3"}
FLOW = {"nodes": [{"id": "start", "type": "start", "name": "start"},
                  {"id": "wait", "type": "pause", "name": "wait", "pause_seconds": 1},
                  {"id": "end", "type": "end", "name": "end"}],
        "edges": [{"source": "start", "target": "wait"}, {"source": "wait", "target": "end"}]}


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(p * len(s)))] if s else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timers", type=int, default=2000)
    parser.add_argument("--pause-seconds", type=int, default=10,
                        help="long enough that starting the instances ends before the first falls due")
    args = parser.parse_args()

    from bench.common import cpu_model
    from domain.shared.context import CommandContext
    from tests.engines import running_container, start_embedded
    from tests.integration.flow_firm import ADMIN, as_
    from tests.integration.flow_firm import set_up as firm

    FLOW["nodes"][1]["pause_seconds"] = args.pause_seconds
    with tempfile.TemporaryDirectory(prefix="ledgerflow-timers-") as tmp:
        engines, server = start_embedded(Path(tmp) / "engines")
        try:
            with running_container(engines, Path(tmp), scheduler_poll_seconds=0.05) as container:
                firm(container)
                flows = container.flows
                flows.clock = lambda: datetime.now(timezone.utc)  # real time: lateness is real
                flows.create_definition(ADMIN, "waiting", "waiting", "account_opening", "brokerage", "")
                flows.save_draft(ADMIN, "waiting", FLOW, {"deduplication": "none", "empty_assignee": "block"}, None)
                flows.publish(ADMIN, "waiting", None)
                print(f"CPU: {cpu_model()}; {args.timers} pause timers of {args.pause_seconds} s", flush=True)
                ids = []
                t0 = time.perf_counter()
                for i in range(args.timers):
                    ids.append(flows.start_instance(as_("sam"), "waiting", "individual", OPENING, title=f"t{i}").id)
                print(f"  started {len(ids)} instances in {time.perf_counter() - t0:.1f} s (not timed)", flush=True)

                fired_at: dict[object, float] = {}
                end_pause = flows.end_pause

                def timed_end_pause(ctx, instance_id, token, **kw):  # type: ignore[no-untyped-def]
                    outcome = end_pause(ctx, instance_id, token, **kw)
                    if outcome == "ended":
                        fired_at[instance_id] = time.time()
                    return outcome

                flows.end_pause = timed_end_pause  # type: ignore[method-assign]
                dues = {iid: datetime.fromisoformat(next(iter(flows.instance(iid).pauses.values()))).timestamp()
                        for iid in ids}
                time.sleep(max(0.0, min(dues.values()) - time.time()))
                t1 = time.perf_counter()
                while len(fired_at) < len(ids):
                    if container.scheduler.tick() == 0:
                        time.sleep(0.01)
                fire_seconds = time.perf_counter() - t1
                late = [fired_at[i] - dues[i] for i in ids]

                ctx = CommandContext("operator:sam", "bench")
                t2 = time.perf_counter()
                for iid in ids:
                    flows.remark(ctx, iid, "基准 baseline")
                plain_seconds = time.perf_counter() - t2
        finally:
            server.stop()

    rate, plain = len(ids) / fire_seconds, len(ids) / plain_seconds
    print(f"\nfired      {len(ids)} timers in {fire_seconds:.2f} s = {rate:.0f}/s "
          f"({'PASS' if rate >= 500 else 'FAIL'} >= 500/s)")
    print(f"lateness   p50 {pct(late, 0.5):.3f} s  p95 {pct(late, 0.95):.3f} s  p99 {pct(late, 0.99):.3f} s "
          f"({'PASS' if pct(late, 0.99) < 2 else 'FAIL'} p99 < 2 s)")
    print(f"baseline   {len(ids)} one-event commands (remark) in {plain_seconds:.2f} s = {plain:.0f}/s; "
          f"timer firing / plain command = {rate / plain:.2f}x")


if __name__ == "__main__":
    main()
