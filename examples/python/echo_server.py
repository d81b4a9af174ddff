"""The lesson's echo server: answers each message in capitals.

Runs on strata: the import line is the only change from the lesson
(`import socket`). Usage: python echo_server.py [HOST] [PORT] [COUNT]

Each process has its own strata stack: echo_client.py in another process
reaches this server through a network, e.g. each on its own TAP
(STRATA_TAP/STRATA_ADDR/STRATA_GATEWAY, as crates/strata-py/tests/test_tap.py
does), or from the kernel (`nc 10.20.0.2 8080`). echo_threads.py runs both
in one process.
"""
import sys

from strata import socket  # the lesson: import socket

HOST = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 8080
COUNT = int(sys.argv[3]) if len(sys.argv) > 3 else 0  # 0: serve forever

server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((HOST, PORT))
server.listen(5)
print("echo server listening on", server.getsockname(), flush=True)
served = 0
while COUNT == 0 or served < COUNT:
    conn, addr = server.accept()
    print("connection from", addr, flush=True)
    data = conn.recv(1024)
    conn.send(data.upper())
    conn.close()
    served += 1
server.close()
