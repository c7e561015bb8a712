"""python3 fd3_server.py N HOLD_SECONDS

A socket-activated server (the systemd LISTEN_FDS convention): the
listening socket is descriptor 3, created and bound by the parent; this
program never calls socket(), bind() or listen(). Accepts N connections
(accept4 underneath), prints "accepted" after each, holds them open.
"""
import os
import socket
import sys
import time

if os.environ.get("LISTEN_FDS") != "1" or os.environ.get("LISTEN_PID") != str(os.getpid()):
    sys.exit("fd3_server: not socket-activated (LISTEN_FDS/LISTEN_PID)")
listener = socket.socket(fileno=3)
keep = []
for _ in range(int(sys.argv[1])):
    keep.append(listener.accept()[0])
    print("accepted", flush=True)
time.sleep(float(sys.argv[2]))
