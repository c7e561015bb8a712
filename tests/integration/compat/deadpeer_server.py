"""python3 deadpeer_server.py ADDR PORT

A server that notices a dead client only through keepalive: listens on
ADDR:PORT, prints "listening", accepts one connection, reads one byte
(prints "data"), then blocks in recv() with no timeout of its own. When the
read ends it prints "recv=ERRNO-NAME elapsed=SECONDS" (SECONDS since the byte
arrived; "recv=EOF" for an orderly close).
"""
import errno
import socket
import sys
import time

listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind((sys.argv[1], int(sys.argv[2])))
listener.listen(1)
print("listening", flush=True)
conn, _peer = listener.accept()
conn.recv(1)
last = time.monotonic()
print("data", flush=True)
try:
    result = "EOF" if conn.recv(1) == b"" else "DATA"
except OSError as e:
    result = errno.errorcode.get(e.errno, str(e.errno))
print("recv=%s elapsed=%.2f" % (result, time.monotonic() - last), flush=True)
