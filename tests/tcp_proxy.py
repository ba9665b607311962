"""A TCP forwarder a test controls, standing between the service and an engine, to cut the
service off the way a real outage does (ADR 0026):

* ``refuse()``: every connection is dropped and new ones are refused (the server stopped);
* ``blackhole()``: connections stay open but nothing passes either way, and new connections
  are accepted and never answered (a stalled server or a partition);
* ``restore()``: forwarding again. Connections held by a blackhole are dropped: what was sent
  into it never arrives, as after a partition the sender's kernel has given up on it.
"""
from __future__ import annotations

import contextlib
import socket
import threading
import time
from dataclasses import dataclass, field

Target = tuple[str, int] | str  # (host, port) or the path of a Unix socket


@dataclass
class _Pair:
    client: socket.socket
    upstream: socket.socket | None
    held: bool = False
    closed: bool = field(default=False)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for sock in (self.client, self.upstream):
            if sock is None:
                continue
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


class TcpProxy:
    def __init__(self, target: Target):
        self.target = target
        self.port = 0
        self._pairs: list[_Pair] = []
        self._lock = threading.Lock()
        self._holding = False
        self._listener: socket.socket | None = None
        self._listen()

    @property
    def address(self) -> tuple[str, int]:
        return "127.0.0.1", self.port

    def _listen(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        for _ in range(50):  # the same port again: the refused listener may take a moment to go
            try:
                listener.bind(("127.0.0.1", self.port))
                break
            except OSError:
                time.sleep(0.02)
        else:
            raise RuntimeError(f"port {self.port} stayed busy")
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _connect_upstream(self) -> socket.socket:
        if isinstance(self.target, str):
            sock = socket.socket(socket.AF_UNIX)
            sock.connect(self.target)
            return sock
        return socket.create_connection(self.target)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # refused from now on: the listener is closed
            with self._lock:
                held = self._holding
                try:
                    upstream = None if held else self._connect_upstream()
                except OSError:
                    client.close()
                    continue
                pair = _Pair(client, upstream, held=held)
                self._pairs.append(pair)
            threading.Thread(target=self._pump, args=(pair, client, upstream), daemon=True).start()
            if upstream is not None:
                threading.Thread(target=self._pump, args=(pair, upstream, client), daemon=True).start()

    @staticmethod
    def _pump(pair: _Pair, source: socket.socket, sink: socket.socket | None) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                break
            if not data:
                break
            if pair.held or sink is None:
                continue  # swallowed by the blackhole
            try:
                sink.sendall(data)
            except OSError:
                break
        pair.close()

    def refuse(self) -> None:
        with self._lock:
            if self._listener is not None:
                with contextlib.suppress(OSError):  # wakes the thread in accept(); close() alone does not
                    self._listener.shutdown(socket.SHUT_RDWR)
                self._listener.close()
                self._listener = None
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            pair.close()

    def blackhole(self) -> None:
        with self._lock:
            self._holding = True
            for pair in self._pairs:
                pair.held = True

    def restore(self) -> None:
        with self._lock:
            self._holding = False
            held = [p for p in self._pairs if p.held]
            self._pairs = [p for p in self._pairs if not p.held]
        for pair in held:
            pair.close()
        if self._listener is None:
            self._listen()

    def close(self) -> None:
        self.refuse()
