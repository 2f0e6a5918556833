"""Where the mock listens: a busy port is an error, and IPv6 loopback is served beside IPv4's.

Why the explicit port check: a busy port is then one clear line before anything starts (granian binds with
SO_REUSEPORT, so a second server on a busy port would start "fine" and share it). Binding a plain socket
(no SO_REUSEPORT) fails exactly when another process listens.

Why a forwarder for [::1]: granian listens on one address, and `localhost` resolves to ::1 first for
Node (Vite's proxy, undici) and some browsers; binding `::` would open the mock to the network. When the
mock listens on 127.0.0.1 (or localhost), a small TCP forwarder on [::1]:port, on its own thread, relays
to it. It costs only IPv6 clients one loopback hop.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import sys
import threading

log = logging.getLogger("mock_server")

LOOPBACK_NAMES = {"127.0.0.1", "localhost"}


class PortBusy(Exception):
    """Another process listens on the address."""


def ensure_free(host: str, port: int) -> None:
    """Raise PortBusy when (host, port) cannot be bound without SO_REUSEPORT."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a port in TIME_WAIT is free
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortBusy(f"port {port} on {host} is already in use (another mock?)") from exc
            raise


def base_url(host: str, port: int) -> str:
    """The URL of (host, port) as curl and browsers take it: an IPv6 literal in brackets."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def exit_if_busy(host: str, port: int) -> None:
    """Exit with one clear line when (host, port) cannot be listened on; before anything is set up."""
    try:
        ensure_free(host, port)
    except PortBusy as exc:
        sys.exit(f"leadvibe-mock: {exc}; choose another with --port")
    except OSError as exc:
        sys.exit(f"leadvibe-mock: cannot listen on {base_url(host, port)}: {exc}")


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


class LoopbackForwarder:
    """Relays [::1]:port to 127.0.0.1:port, on a daemon thread with its own event loop."""

    def __init__(self, port: int, target_host: str = "127.0.0.1") -> None:
        self.port = port
        self.target_host = target_host
        self.ready = threading.Event()
        self.error: str | None = None

    def start(self) -> bool:
        """True once [::1]:port is listening; False (and `error` says why) when it cannot be."""
        threading.Thread(target=asyncio.run, args=(self._serve(),), name="ipv6-forwarder", daemon=True).start()
        self.ready.wait(5)
        return self.error is None

    async def _serve(self) -> None:
        try:
            server = await asyncio.start_server(self._relay, "::1", self.port, reuse_address=True)
        except OSError as exc:
            self.error = exc.strerror or str(exc)
            self.ready.set()
            return
        self.ready.set()
        async with server:
            await server.serve_forever()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(self.target_host, self.port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))
