"""The lesson's echo client: sends one message, prints the answer.

Runs on strata: the import line is the only change from the lesson.
Usage: python echo_client.py [HOST] [PORT] [MESSAGE]
"""
import sys

from strata import socket  # the lesson: import socket

HOST = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 8080
MESSAGE = sys.argv[3] if len(sys.argv) > 3 else "hello, strata"

client = socket.socket()
client.connect((HOST, PORT))
client.send(MESSAGE.encode())
data = client.recv(1024)
print("received:", data.decode())
client.close()
