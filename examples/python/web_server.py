"""The lesson's browser/server program: a hand-written HTTP answer that a
browser displays.

    python web_server.py [PORT] [COUNT]

On its own the page is served on strata's loopback (fetch it from the same
script or through a TAP). Attached to a TAP, a browser or curl reaches it:

    STRATA_TAP=tap0 STRATA_ADDR=10.20.0.2/24 python web_server.py
    curl http://10.20.0.2:8080/

The import line is the only change from the lesson.
"""
import sys

from strata import socket  # the lesson: import socket

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
COUNT = int(sys.argv[2]) if len(sys.argv) > 2 else 0  # 0: serve forever

PAGE = """<!DOCTYPE html>
<html><head><title>strata</title></head>
<body><h1>Hello from strata</h1>
<p>This page crossed a TCP/IP stack written in Rust, driven from Python.</p>
</body></html>
"""

server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("0.0.0.0", PORT))
server.listen(5)
print("serving http://%s:%d/" % (socket.gethostbyname("localhost"), PORT), flush=True)
served = 0
while COUNT == 0 or served < COUNT:
    conn, addr = server.accept()
    request = conn.recv(4096).decode("latin-1")
    first = request.split("\r\n", 1)[0]
    print(addr[0], first, flush=True)
    body = PAGE.encode()
    head = (
        "HTTP/1.1 200 OK\r\n"
        "Content-Type: text/html; charset=utf-8\r\n"
        "Content-Length: %d\r\n"
        "Connection: close\r\n\r\n" % len(body)
    )
    conn.sendall(head.encode() + body)
    conn.close()
    served += 1
server.close()
