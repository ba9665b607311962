"""Two schedulers, one firing: two scheduler processes (each its own flows application, sharing
the event store and the Redis due queue) ticking at the same moment on the same due SLA and
timeout timers record every step — the breach, each reminder, the automatic decision — once,
and the one that loses a race leaves the queue as the winner left it."""
from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

from application.flows.service import FlowsApplication
from infrastructure.flows.scheduler import DUE, DueQueue, Scheduler
from tests.integration.flow_firm import ADMIN, START, as_, open_task
from tests.integration.test_flow_timeouts import _publish

SH = ZoneInfo("Asia/Shanghai")
INSTANCES = 6
# A Monday: the SLA of one working hour breaches at 10:00, reminders follow every working hour
# (lunch does not count), then the task approves itself.
STEPS = [datetime(2026, 3, 2, h, tzinfo=SH) for h in (10, 11, 12, 14)]


def _second_process(container, clock) -> Scheduler:
    """What another scheduler process builds: its own flows application (its own instance cache)
    and due-queue client, on the same database and the same Redis queue."""
    a = container.flows
    flows = FlowsApplication(container.store, forms=container.forms, candidates=a.candidates, facts=a.facts,
                             clock=clock, due_queue=DueQueue(container.redis),
                             working_time=container.calendar.working_time)
    return Scheduler(DueQueue(container.redis), flows, container.instance_queries)


def _queued(container) -> dict[str, float]:
    return {m.decode(): score for m, score in
            container.redis.client.zrange(container.redis.key(DUE), 0, -1, withscores=True)}


def _still_to_fire(container, started) -> dict[str, float]:
    return {DueQueue.member(kind, iid, key): due.timestamp() for iid in started
            for key, due, kind in container.flows.instance(iid).due_timers()}


def _tick_together(schedulers: list[Scheduler]) -> list[int]:
    start = threading.Barrier(len(schedulers))
    fired = [0] * len(schedulers)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            start.wait()
            fired[i] = schedulers[i].tick()
        except BaseException as exc:  # the test asserts there were none
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(schedulers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return fired


def test_two_schedulers_ticking_together_record_each_timeout_step_once(firm):
    container, clock = firm
    container.calendar.open_calendar(ADMIN, None, "公司工作日历")
    container.calendar.seed_year(ADMIN, 2026)
    _publish(container, "reminding", {"remind_every_seconds": 3600, "remind_times": 2, "action": "auto_approve",
                                      "comment": "超时默认同意"})
    clock.now = datetime(2026, 3, 2, 9, tzinfo=SH)
    started = [container.flows.start_instance(as_("sam"), "reminding", "institution", START, title=f"超时{i}").id
               for i in range(INSTANCES)]
    entry = {iid: open_task(container.flows.instance(iid))["id"] for iid in started}
    container.runners["flows.instances"].catch_up()  # the read model the schedulers reconcile with
    schedulers = [container.scheduler, _second_process(container, clock)]
    fired = Counter[int]()
    for step in STEPS:
        clock.now = step
        for _ in range(3):  # ticking again once the step is done fires nothing more
            for i, n in enumerate(_tick_together(schedulers)):
                fired[i] += n
        # and the loser of a race leaves the queue as the winner's save left it: each instance's
        # next step at its own time, never pulled forward to be fired early again and again
        assert _queued(container) == _still_to_fire(container, started)
    # each instance: breached, reminded twice, approved by the timeout — whoever fired which
    assert fired[0] + fired[1] == INSTANCES * len(STEPS)
    for iid in started:
        recorded = Counter(type(e).__name__ for e in container.flows.events.get(iid))
        assert (recorded["SlaBreached"], recorded["SlaReminded"], recorded["TimeoutActed"]) == (1, 2, 1)
        task = container.flows.instance(iid).tasks[entry[iid]]
        assert task.status == "approved" and task.reminders == 2
