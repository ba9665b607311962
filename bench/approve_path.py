"""How many of our source files one approve crosses: from the HTTP request to the stored event.

Run from the repository root (never in the test suite)::

    .venv/bin/python bench/approve_path.py            # embedded PostgreSQL in a temp dir
    .venv/bin/python bench/approve_path.py --list     # and name the files, by layer

It builds the 004 tenant signing firm of the end-to-end tests, starts one signing, waits for
OPS's task, and traces ``POST /api/v1/flows/instances/{id}/tasks/{task}/approve`` (a warm
request: the same kind of request ran once before). The threads the request starts are traced —
its event loop (middleware) and the worker thread of the route — not the threads that were
running already: the projection workers (they apply the event afterwards, off the command's
path) and the event store's group-commit writer (its module, recorder.py, is entered by the
route's thread too, so it is counted). A file counts when a function of it ran.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import threading
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LAYERS = ("interfaces", "application", "domain", "projections", "infrastructure")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--list", action="store_true", help="name the files crossed")
    args = parser.parse_args()

    from starlette.testclient import TestClient

    from interfaces.api.app import create_app
    from tests.e2e.signing_firm import START, ok, set_up
    from tests.engines import running_container, start_embedded

    with tempfile.TemporaryDirectory(prefix="ledgerflow-path-") as tmp:
        engines, server = start_embedded(Path(tmp) / "engines")
        try:
            with running_container(engines, Path(tmp), workers=True) as container, \
                    TestClient(app := create_app(container)) as client:
                people = set_up(client, container)

                def task_of_a_new_signing() -> tuple[str, str]:
                    started = ok(client.post("/api/v1/flows/instances", headers=people["sam"], json={
                        "definition": "tenant_signing", "subject": "institution", "title": "path", "data": START}),
                        201)
                    todo = ok(client.get("/api/v1/flows/todo", headers=people["olga"],
                                         params={"wait_for_position": started["position"]}))
                    return started["id"], next(t["task_id"] for t in todo["items"]
                                               if t["instance_id"] == started["id"])

                def approve(instance: str, task: str) -> None:
                    # A client without its own lifespan runs each request on a new event-loop
                    # thread (and new worker threads), which the trace function then covers.
                    ok(TestClient(app).post(f"/api/v1/flows/instances/{instance}/tasks/{task}/approve",
                                            json={}, headers=people["olga"]))

                approve(*task_of_a_new_signing())  # warm: imports, caches, prepared statements
                instance, task = task_of_a_new_signing()
                files = _traced(lambda: approve(instance, task))
        finally:
            server.stop()

    by_layer: dict[str, list[str]] = defaultdict(list)
    for f in sorted(files):
        by_layer[f.split("/", 1)[0]].append(f)
    print(f"approve crosses {len(files)} source files: " +
          ", ".join(f"{layer} {len(by_layer[layer])}" for layer in LAYERS if by_layer[layer]))
    if args.list:
        for layer in LAYERS:
            for f in by_layer[layer]:
                print(f"  {f}")


def _traced(call) -> set[str]:  # type: ignore[no-untyped-def]
    """Our source files whose code ran during ``call``, in any thread but the projection workers'."""
    seen: set[str] = set()
    roots = tuple(f"{ROOT}/{layer}/" for layer in LAYERS)

    def tracer(frame, event, arg):  # type: ignore[no-untyped-def]
        if event == "call":
            name = frame.f_code.co_filename
            if name.startswith(roots) and "projection" not in threading.current_thread().name.lower():
                seen.add(name[len(str(ROOT)) + 1:])
        return None

    threading.settrace(tracer)
    sys.settrace(tracer)
    try:
        call()
    finally:
        sys.settrace(None)
        threading.settrace(None)
    return seen


if __name__ == "__main__":
    main()
