"""A TCP proxy on loopback that can make its open connections go silent, as a stalled load
balancer or a half-dead network path does: `freeze()` stops forwarding on every connection open
now (nothing is closed or refused; bytes are dropped), while new connections work normally.
TLS passes through untouched (the API server's certificate names 127.0.0.1, whatever the port)."""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Self


class FreezingProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._frozen: list[threading.Event] = []  # one per connection: set = silent
        self._sockets: list[socket.socket] = []
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            frozen = threading.Event()
            with self._lock:
                self._frozen.append(frozen)
                self._sockets += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst, frozen), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket, frozen: threading.Event) -> None:
        try:
            while data := src.recv(65536):
                if not frozen.is_set():
                    dst.sendall(data)
        except OSError:
            pass
        if frozen.is_set():
            return  # silent means silent: not even a close reaches the other side
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def freeze(self) -> int:
        """Silence every connection open now; returns how many."""
        with self._lock:
            for frozen in self._frozen:
                frozen.set()
            return len(self._frozen)

    def close(self) -> None:
        self._closed.set()
        self._listener.close()
        with self._lock:
            for s in self._sockets:
                s.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
