"""The worker's periodic checkpoint job keeps running when one run fails (an anchor outage)."""
import threading

from infrastructure.periodic import Every


def test_a_periodic_job_runs_again_after_a_failure():
    runs: list[int] = []
    third = threading.Event()

    def job() -> None:
        runs.append(1)
        if len(runs) == 1:
            raise OSError("anchor unreachable")
        if len(runs) >= 3:
            third.set()

    every = Every(0.01, job, "test-job")
    every.start()
    try:
        assert third.wait(5)
    finally:
        every.stop()
    assert len(runs) >= 3
