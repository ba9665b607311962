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

from domain.shared.errors import UnstorableValueError
from domain.shared.text import MAX_DEPTH, number_problem, text_problem


class DateAsISO(Transcoding):
    type = dt.date
    name = "date_iso"

    def encode(self, obj: dt.date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> dt.date:
        return dt.date.fromisoformat(data)


# Request bodies are bounded at MAX_DEPTH; an event wraps them in a few levels of its own.
MAX_EVENT_DEPTH = MAX_DEPTH + 8


class _Unstorable(Exception):
    def __init__(self, why: str):
        super().__init__(why)
        self.why = why
        self.path: list[str] = []  # innermost first


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
        try:
            return orjson.dumps(self._tag(obj, 0))
        except _Unstorable as exc:
            # The last line of the text boundary: an event no read model could apply is never
            # stored, whichever way its value came in (domain/shared/text.py).
            raise UnstorableValueError(f"{'.'.join(reversed(exc.path)) or 'value'} {exc.why}",
                                       field=".".join(reversed(exc.path)) or None) from None

    def decode(self, data: bytes) -> Any:
        return self._untag(orjson.loads(data))

    def _tag(self, obj: Any, depth: int) -> Any:
        if obj is None or obj is True or obj is False:
            return obj
        if isinstance(obj, str):
            if "\x00" in obj or (not obj.isascii() and text_problem(obj)):
                raise _Unstorable(text_problem(obj) or "")
            return obj
        if isinstance(obj, (int, float)):
            why = number_problem(obj)
            if why:
                raise _Unstorable(why)
            return obj
        if depth > MAX_EVENT_DEPTH:
            raise _Unstorable(f"is nested deeper than {MAX_EVENT_DEPTH} levels")
        if isinstance(obj, dict):
            out = {}
            for k, v in obj.items():
                try:
                    if isinstance(k, str) and ("\x00" in k or (not k.isascii() and text_problem(k))):
                        raise _Unstorable("key " + (text_problem(k) or ""))
                    out[k] = self._tag(v, depth + 1)
                except _Unstorable as exc:
                    exc.path.append(str(k).replace("\x00", "\\0"))
                    raise
            return out
        if isinstance(obj, (list, tuple)):
            items = []
            for i, v in enumerate(obj):
                try:
                    items.append(self._tag(v, depth + 1))
                except _Unstorable as exc:
                    exc.path.append(str(i))
                    raise
            return items
        transcoding = self._by_type.get(type(obj))
        if transcoding is None:
            raise TypeError(f"cannot store value of type {type(obj).__qualname__}: register a Transcoding")
        return {"_type_": transcoding.name, "_data_": self._tag(transcoding.encode(obj), depth + 1)}

    def _untag(self, obj: Any) -> Any:
        if isinstance(obj, dict):
            if len(obj) == 2 and "_type_" in obj and "_data_" in obj:
                return self._by_name[obj["_type_"]].decode(self._untag(obj["_data_"]))
            return {k: self._untag(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self._untag(v) for v in obj]
        return obj


__all__ = ["OrjsonTranscoder", "DateAsISO", "uuid", "Decimal"]
