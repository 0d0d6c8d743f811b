"""The public port of ``make run``: Odoo's recommended reverse proxy, in small.

With workers, Odoo serves the web client's websocket (the bus: chat,
notifications, the "real-time connection") only on its gevent port, and the
rest on its HTTP workers' port; Odoo's deployment guide puts a reverse proxy
in front that sends ``/websocket`` to the former. This does the same on
loopback, with the standard library: each connection goes, whole, to the
port its first request asks for. Bytes pass untouched (``Host`` included) and
the browser is on loopback too, so Odoo sees the request as the browser sent
it and needs no ``proxy_mode``.
"""

import asyncio
import contextlib
import socket
import urllib.request

LOOPBACK = "127.0.0.1"
# The location Odoo's nginx example routes to the gevent port (a prefix).
WEBSOCKET_PREFIX = b"/websocket"
# Browsers open connections ahead of use: wait that long for a first request.
FIRST_REQUEST_TIMEOUT = 300
NOT_READY = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
    b"Odoo is not answering yet: wait a moment, then reload the page.\n"
)


def listen(port):
    """The public socket, bound before Odoo starts (a taken port fails first)."""
    return socket.create_server((LOOPBACK, port))


async def pump(reader, writer):
    """Copy one direction until its end, then pass the end on."""
    try:
        while chunk := await reader.read(1 << 16):
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except OSError:
        writer.close()


class OdooProxy:
    def __init__(self, http_port, gevent_port):
        self.http_port = http_port
        self.gevent_port = gevent_port

    def upstream_port(self, request_line):
        """``GET /websocket?version=... HTTP/1.1`` goes to the gevent port."""
        parts = request_line.split(b" ")
        target = parts[1] if len(parts) > 1 else b""
        if target.startswith(WEBSOCKET_PREFIX):
            return self.gevent_port
        return self.http_port

    async def handle(self, client_reader, client_writer):
        upstream_writer = None
        try:
            request_line = await asyncio.wait_for(
                client_reader.readline(), FIRST_REQUEST_TIMEOUT
            )
            if not request_line:
                return
            try:
                upstream_reader, upstream_writer = await asyncio.open_connection(
                    LOOPBACK, self.upstream_port(request_line)
                )
            except OSError:
                client_writer.write(NOT_READY)
                await client_writer.drain()
                return
            upstream_writer.write(request_line)
            await asyncio.gather(
                pump(client_reader, upstream_writer),
                pump(upstream_reader, client_writer),
            )
        except (OSError, asyncio.TimeoutError, ValueError):
            pass  # the browser went away, or sent a line longer than 64 KiB
        finally:
            for writer in (client_writer, upstream_writer):
                if writer:
                    writer.close()
                    with contextlib.suppress(OSError):
                        await writer.wait_closed()

    async def serve_while(self, public_socket, process, on_ready):
        """Serve the public socket while the Odoo process runs; call
        ``on_ready()`` once Odoo answers. Returns Odoo's exit code."""
        server = await asyncio.start_server(self.handle, sock=public_socket)
        login_url = f"http://{LOOPBACK}:{self.http_port}/web/login"
        ready = False
        async with server:
            while process.poll() is None:
                if not ready:
                    ready = await asyncio.to_thread(answers, login_url)
                    if ready:
                        on_ready()
                await asyncio.sleep(0.5)
        return process.returncode


def answers(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status == 200
    except OSError:
        return False
