"""The image archive over HTTP for the archive tests: an app whose upload limit is small enough
to test, with the brokerage line, and helpers to upload and to add operators. The fixture
itself, ``archive_api`` (the client and the container), is in conftest.py."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from starlette.testclient import TestClient

from domain.shared.context import CommandContext
from interfaces.api.app import create_app
from tests.engines import ADMIN_HEADERS as ADMIN
from tests.engines import running_container

SETUP = CommandContext("admin:bootstrap", "setup")
PASSWORD = "Archive-Flow-2026"
LIMIT = 100_000
DOCS = "/api/v1/archive/documents"


def ok(r, status=200):
    assert r.status_code == status, r.text
    return r.json()


@contextmanager
def running_archive(engines, tmp_path) -> Iterator[tuple]:
    with running_container(engines, tmp_path, workers=True, archive_max_file_bytes=LIMIT) as container, \
            TestClient(create_app(container)) as client:
        container.access.create_business_line(SETUP, "brokerage", "Brokerage")
        yield client, container
        # Let the sinks finish before the test database and ClickHouse database are dropped.
        container.progress.wait_for(list(container.runners), container.store.head(), 10)


def send(client, body, name, ctype="application/octet-stream", headers=ADMIN, url=DOCS, **fields):
    data = {"business_line": "brokerage", "category": "id_card", **fields}
    if url != DOCS:
        data = {k: v for k, v in fields.items()}
    return client.post(url, headers=headers, files={"file": (name, body, ctype)}, data=data)


def operator_headers(client, app, login, permissions, lines, department):
    """A new operator with a role of ``permissions`` on ``lines`` and ``department``: their auth headers."""
    app.access.create_role(SETUP, login + "_role", login, permissions)
    op = app.access.create_operator(SETUP, login, login, department, None, None, PASSWORD).id
    app.access.grant_roles(SETUP, op, [login + "_role"])
    app.access.set_business_lines(SETUP, op, lines)
    app.access.set_data_scope(SETUP, op, [{"department_id": str(department), "include_children": True}], [])
    token = ok(client.post("/api/v1/auth/login", json={"login_name": login, "password": PASSWORD}))
    return {"Authorization": "Bearer " + token["access_token"]}
