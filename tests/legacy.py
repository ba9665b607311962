"""Events as an older release could store them, before the event store refused values no read
model can apply (a NUL in text): parking exists for such unforeseen events, so its tests need
a way to write one."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson


@contextmanager
def unguarded_store(store: Any) -> Iterator[None]:
    transcoder = store.transcoder

    def tag(obj: Any) -> Any:
        if obj is None or isinstance(obj, (str, bool, int, float)):
            return obj
        if isinstance(obj, dict):
            return {k: tag(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [tag(v) for v in obj]
        transcoding = transcoder._by_type[type(obj)]
        return {"_type_": transcoding.name, "_data_": tag(transcoding.encode(obj))}

    transcoder.encode = lambda obj: orjson.dumps(tag(obj))
    try:
        yield
    finally:
        del transcoder.encode


def legacy_department(container: Any, ctx: Any, code: str, name: str) -> Any:
    """A department created by an older release that checked nothing: its name may hold what
    today's commands refuse (a NUL). Returns the command result."""
    from domain.access.department import Department
    from domain.shared.context import acting_as
    from domain.shared.ids import natural_id

    with acting_as(ctx):
        department = Department.create(code, "placeholder", "other", None, id=natural_id("department", code))
    for event in department.pending_events:
        if hasattr(event, "name"):
            object.__setattr__(event, "name", name)
    with unguarded_store(container.store):
        position = container.access.save_all(department)
    return type("Result", (), {"id": department.id, "position": position})


def legacy_rename(container: Any, ctx: Any, department_id: Any, name: str) -> None:
    from domain.access.department import Department
    from domain.shared.context import acting_as

    department = container.access.load(department_id, Department)
    with acting_as(ctx):
        department.rename("placeholder-renamed")
    for event in department.pending_events:
        object.__setattr__(event, "name", name)
    with unguarded_store(container.store):
        container.access.save_all(department)
