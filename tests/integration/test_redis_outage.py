"""Redis is derived state only: commands go on while it is down; it is rebuilt when it returns."""
from __future__ import annotations

from starlette.testclient import TestClient

from infrastructure.engines.embedded import EmbeddedRedis
from infrastructure.redis.progress import POSITIONS
from interfaces.api.app import create_app
from tests.engines import ADMIN_HEADERS as AUTH
from tests.engines import running_container
from tests.live import eventually


def test_commands_survive_a_redis_outage_and_redis_state_is_rebuilt(engines, tmp_path):
    redis_server = EmbeddedRedis(tmp_path / "own-redis")
    redis_server.start()
    returned = EmbeddedRedis(tmp_path / "own-redis", port=redis_server.port)
    try:
        with running_container(engines, tmp_path, workers=True, redis_url=redis_server.url) as container:
            client = TestClient(create_app(container))
            positions_key = container.redis.key(POSITIONS)
            first = client.post("/api/v1/access/departments", json={"code": "HQ", "name": "HQ", "kind": "head_office"},
                                headers=AUTH).json()
            assert eventually(lambda: container.redis.client.hget(positions_key, "access.departments") == b"1")

            redis_server.stop()
            assert eventually(lambda: not container.redis.available)
            created = client.post("/api/v1/access/departments",
                                  json={"code": "SH", "name": "Shanghai", "kind": "branch", "parent_id": first["id"]},
                                  headers=AUTH)
            assert created.status_code == 201, created.text
            listed = client.get("/api/v1/access/departments",
                                params={"wait_for_position": created.json()["position"], "wait_timeout": 10},
                                headers=AUTH)
            assert listed.status_code == 200 and {d["code"] for d in listed.json()["items"]} == {"HQ", "SH"}
            ready = client.get("/ready")
            assert ready.status_code == 503 and ready.json()["checks"]["redis"] == "down"
            rebuilds = container.redis.rebuilds

            # Redis returns empty (it keeps nothing on disk): the supervisor restores derived state.
            returned.start()
            assert eventually(lambda: container.redis.rebuilds > rebuilds)
            assert container.redis.client.hgetall(positions_key) == {
                name.encode(): b"2" for name in container.runners}
            assert client.get("/ready").json()["status"] == "ok"
    finally:
        redis_server.stop()
        returned.stop()
