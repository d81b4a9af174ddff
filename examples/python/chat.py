"""A chat loop: a server relays each line to every other client.

    python chat.py             # server and two chatting clients, one script
    python chat.py server      # the server alone (port 9000)
    python chat.py client NAME # type lines; others' lines are printed

The server waits on all its sockets at once with selectors. The import line
is the only change from the plain-Python version (`import selectors, socket`).
"""
import sys
import threading

from strata import selectors, socket  # plain Python: import selectors, socket

HOST, PORT = "127.0.0.1", 9000


def server(ready=None, rounds=None):
    sel = selectors.DefaultSelector()
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((HOST, PORT))
    lsock.listen()
    lsock.setblocking(False)
    sel.register(lsock, selectors.EVENT_READ, data=None)
    if ready:
        ready.set()
    clients = {}
    relayed = 0
    while rounds is None or relayed < rounds:
        for key, _ in sel.select(timeout=1.0):
            if key.data is None:
                conn, addr = lsock.accept()
                conn.setblocking(False)
                clients[conn] = b""
                sel.register(conn, selectors.EVENT_READ, data=addr)
                conn.sendall(b"* welcome, %d here\n" % len(clients))
                continue
            conn = key.fileobj
            data = conn.recv(4096)
            if not data:
                sel.unregister(conn)
                conn.close()
                del clients[conn]
                continue
            clients[conn] += data
            while b"\n" in clients[conn]:
                line, clients[conn] = clients[conn].split(b"\n", 1)
                for other in clients:
                    if other is not conn:
                        other.sendall(line + b"\n")
                relayed += 1
    for c in clients:
        c.close()
    sel.close()
    lsock.close()


def client(name, lines, expect, together):
    s = socket.create_connection((HOST, PORT))
    f = s.makefile("rw")
    f.readline()  # the welcome: the server has us
    together.wait()  # both are in: nobody misses a line
    for line in lines:
        f.write("%s: %s\n" % (name, line))
    f.flush()
    heard = [f.readline().strip() for _ in range(expect)]
    f.close()
    s.close()
    return heard


def interactive(name):
    s = socket.create_connection((HOST, PORT))

    def show():
        for line in s.makefile("r"):
            print(line, end="")

    threading.Thread(target=show, daemon=True).start()
    for line in sys.stdin:
        s.sendall(("%s: %s" % (name, line)).encode())
    s.close()


def demo():
    ready = threading.Event()
    t = threading.Thread(target=server, args=(ready, 6))
    t.start()
    ready.wait()
    together = threading.Barrier(2)
    out = {}
    alice = threading.Thread(target=lambda: out.setdefault("alice", client("alice", ["hi bob", "how is the stack?", "bye"], 3, together)))
    alice.start()
    out["bob"] = client("bob", ["hi alice", "all layers fine", "bye"], 3, together)
    alice.join()
    t.join()
    for name in ("alice", "bob"):
        for line in out[name]:
            print("%s heard %s" % (name, line))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "server":
        server()
    elif len(sys.argv) > 2 and sys.argv[1] == "client":
        interactive(sys.argv[2])
    else:
        demo()
