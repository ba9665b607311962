"""orjson-based transcoder for the eventsourcing Mapper.

orjson would serialise UUID, datetime and Decimal natively, but then they come
back as strings. Values of registered types are therefore tagged
``{"_type_": name, "_data_": ...}`` exactly like the library's JSONTranscoder,
so stored events stay readable by either transcoder.
"""
from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import orjson
from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, Transcoder, Transcoding, UUIDAsHex


class DateAsISO(Transcoding):
    type = dt.date
    name = "date_iso"

    def encode(self, obj: dt.date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> dt.date:
        return dt.date.fromisoformat(data)


class OrjsonTranscoder(Transcoder):
    def __init__(self) -> None:
        self._by_type: dict[type, Transcoding] = {}
        self._by_name: dict[str, Transcoding] = {}
        for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO(), DateAsISO()):
            self.register(transcoding)

    def register(self, transcoding: Transcoding) -> None:
        self._by_type[transcoding.type] = transcoding
        self._by_name[transcoding.name] = transcoding

    def encode(self, obj: Any) -> bytes:
        return orjson.dumps(self._tag(obj))

    def decode(self, data: bytes) -> Any:
        return self._untag(orjson.loads(data))

    def _tag(self, obj: Any) -> Any:
        if obj is None or isinstance(obj, (str, bool, int, float)):
            return obj
        if isinstance(obj, dict):
            return {k: self._tag(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [self._tag(v) for v in obj]
        transcoding = self._by_type.get(type(obj))
        if transcoding is None:
            raise TypeError(f"cannot store value of type {type(obj).__qualname__}: register a Transcoding")
        return {"_type_": transcoding.name, "_data_": self._tag(transcoding.encode(obj))}

    def _untag(self, obj: Any) -> Any:
        if isinstance(obj, dict):
            if len(obj) == 2 and "_type_" in obj and "_data_" in obj:
                return self._by_name[obj["_type_"]].decode(self._untag(obj["_data_"]))
            return {k: self._untag(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self._untag(v) for v in obj]
        return obj


__all__ = ["OrjsonTranscoder", "DateAsISO", "uuid", "Decimal"]
