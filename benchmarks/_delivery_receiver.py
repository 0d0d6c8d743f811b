"""A webhook receiver for the delivery benchmark, in a process of its own.

It must not be what limits the figures: it runs in its own process (its own
GIL, apart from the measuring code), on asyncio, speaks HTTP/1.1 with
kept-alive connections, and listens on one loopback address per endpoint
(127.0.1.x, 127.0.2.x...: the whole 127.0.0.0/8 is the loopback on Linux),
so that 1 000 endpoints are 1 000 hosts, as on the internet, where a
connection kept alive serves one endpoint only.

Paths: /hook/<n> answers 200 at once, /slow/<n> after the delay (50 ms:
internet-like latency), /hang/<n> reads the request and never answers, until
the client leaves. Each request is recorded when it has been read whole, as
(time.monotonic(), path): the monotonic clock is the system's, comparable
with the benchmark process's.
"""

import asyncio
import contextlib
import ipaddress
import multiprocessing
import resource
import threading
import time

import psutil

FIRST_HOST = ipaddress.ip_address("127.0.1.1")


def host(index):
    """The loopback address of endpoint index (0: 127.0.1.1)."""
    return str(FIRST_HOST + index)


def parse_head(head):
    """(path, body length, whether to close after answering) of a request."""
    request_line, *lines = head.decode("latin-1").split("\r\n")
    _method, path, version = request_line.split(" ", 2)
    length, close = 0, version != "HTTP/1.1"
    for line in lines:
        name, _colon, value = line.partition(":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection":
            close = value != "keep-alive"
    return path, length, close


async def _serve(hosts, port, delay, count, control, ready):
    arrivals = []
    connections = set()
    loop = asyncio.get_running_loop()

    async def answer(reader, writer):
        connections.add(writer.transport)
        try:
            while True:
                path, length, close = parse_head(await reader.readuntil(b"\r\n\r\n"))
                if length:
                    await reader.readexactly(length)
                arrivals.append((time.monotonic(), path))
                count.value += 1
                if path.startswith("/hang/"):
                    while await reader.read(65536):
                        pass  # until the client gives up
                    return
                if path.startswith("/slow/"):
                    await asyncio.sleep(delay)
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                    + (b"Connection: close\r\n" if close else b"")
                    + b"\r\nok"
                )
                await writer.drain()
                if close:
                    return
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            return
        finally:
            connections.discard(writer.transport)
            writer.close()

    async def take():
        taken = arrivals[:]
        arrivals.clear()
        count.value = 0
        return taken

    def commands():
        while (command := control.recv()) != "stop":
            if command == "take":  # the arrivals so far, cleared
                control.send(asyncio.run_coroutine_threadsafe(take(), loop).result())
        loop.call_soon_threadsafe(stop.set)

    # One listening socket per address, all on the same port.
    servers = [
        await asyncio.start_server(answer, address, port, backlog=1024)
        for address in hosts
    ]
    stop = asyncio.Event()
    threading.Thread(target=commands, daemon=True).start()
    ready.set()
    await stop.wait()
    for server in servers:
        server.close()
    # Connections still open (kept alive, hanging) end before the loop
    # does, not cancelled under their handlers.
    for transport in list(connections):
        transport.abort()
    while connections:
        await asyncio.sleep(0.01)


def _main(hosts, port, delay, count, control, ready):
    # 1 000 listening sockets and their connections.
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(_serve(hosts, port, delay, count, control, ready))


class ReceiverProcess:
    """The receiver: ``url(kind, n)`` of endpoint n, ``count`` (arrivals
    since the last ``take()``), ``take()`` the arrivals, cleared."""

    def __init__(self, port, endpoints, delay=0.05):
        self.port = port
        self.endpoints = endpoints
        self.delay = delay
        context = multiprocessing.get_context("spawn")
        self._count = context.RawValue("q", 0)
        self._control, child = context.Pipe()
        self._ready = context.Event()
        self.process = context.Process(
            target=_main,
            args=(
                [host(i) for i in range(endpoints)],
                port,
                delay,
                self._count,
                child,
                self._ready,
            ),
            daemon=True,
        )

    def __enter__(self):
        self.process.start()
        deadline = time.monotonic() + 60
        while not self._ready.wait(0.2):
            if not self.process.is_alive() or time.monotonic() > deadline:
                self.process.kill()
                raise RuntimeError("the benchmark's receiver did not start")
        return self

    def __exit__(self, *exc):
        with contextlib.suppress(OSError):
            self._control.send("stop")
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()

    def url(self, kind, index):
        """kind: hook (instant), slow, hang."""
        return f"http://{host(index % self.endpoints)}:{self.port}/{kind}/{index}"

    @property
    def count(self):
        return self._count.value

    def take(self):
        """[(monotonic time, path)] since the last take, in arrival order."""
        self._control.send("take")
        return self._control.recv()

    def cpu_seconds(self):
        times = psutil.Process(self.process.pid).cpu_times()
        return times.user + times.system
