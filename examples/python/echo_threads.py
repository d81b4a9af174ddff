"""The echo server and its client in one script, as two threads.

With no set-up, `from strata import socket` puts both on the same strata
stack in this process: they talk through strata's TCP over its loopback
interface. The import line is the only change from the lesson.
"""
import threading

from strata import socket  # the lesson: import socket

server = socket.socket()
server.bind(("127.0.0.1", 8080))
server.listen(5)


def serve():
    conn, addr = server.accept()
    print("server: connection from", addr)
    data = conn.recv(1024)
    conn.send(data.upper())
    conn.close()


t = threading.Thread(target=serve)
t.start()

client = socket.socket()
client.connect(("127.0.0.1", 8080))
client.send(b"hello, strata")
print("client: received", client.recv(1024).decode())
client.close()
t.join()
server.close()
