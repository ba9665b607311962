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
