"""python3 py_pair.py HOLD_SECONDS

Loopback connections with both ends in this process, through three stdlib
layers; prints "NAME PORT" for each (PORT: the listening port), then "ready",
then holds every socket open:
  asyncio   - asyncio.start_server + asyncio.open_connection (non-blocking
              connect and accept4 in the event loop)
  sockserv  - socketserver.ThreadingTCPServer (accept in its serve thread),
              client socket.create_connection
  dualstack - socket.create_server(("::", 0), dualstack_ipv6=True), client to
              127.0.0.1: an AF_INET6 listener accepting a v4-mapped peer
"""
import asyncio
import socket
import socketserver
import sys
import threading
import time

HOLD = float(sys.argv[1])
keep = []


async def asyncio_pair():
    accepted = asyncio.Event()

    async def on_client(reader, writer):
        keep.append(writer)
        accepted.set()

    server = await asyncio.start_server(on_client, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    _reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await accepted.wait()
    keep.extend([server, writer])
    print("asyncio", port, flush=True)


def sockserv_pair():
    accepted = threading.Event()

    class Hold(socketserver.BaseRequestHandler):
        def handle(self):
            accepted.set()
            time.sleep(HOLD)

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Hold)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    keep.append(socket.create_connection(("127.0.0.1", port)))
    accepted.wait()
    print("sockserv", port, flush=True)


def dualstack_pair():
    server = socket.create_server(("::", 0), family=socket.AF_INET6, dualstack_ipv6=True)
    port = server.getsockname()[1]
    keep.append(socket.create_connection(("127.0.0.1", port)))
    keep.append(server.accept()[0])
    print("dualstack", port, flush=True)


async def main():
    await asyncio_pair()
    sockserv_pair()
    if socket.has_dualstack_ipv6():
        dualstack_pair()
    else:
        print("dualstack unavailable", flush=True)
    print("ready", flush=True)
    await asyncio.sleep(HOLD)


asyncio.run(main())
