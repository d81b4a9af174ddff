"""A drop-in for Python's :mod:`socket` module on the strata stack.

Write ``from strata import socket`` instead of ``import socket``; the rest
of the program stays as it is. AF_INET with SOCK_STREAM (strata's TCP) and
SOCK_DGRAM (strata's UDP) are supported.

Differences that remain: ``fileno()`` numbers are not kernel descriptors,
so readiness goes through :mod:`strata.select` / :mod:`strata.selectors`
rather than the standard ones; names resolve through the host's resolver
(``localhost`` is strata's own 127.0.0.1); no IPv6, no raw sockets, no
``MSG_*`` flags.
"""

import errno as _errno
import io as _io
import ipaddress as _ipaddress
import socket as _std
import time as _time

from . import _strata

# ----- constants (the kernel's values, so code mixing both agrees) -----

AF_INET = _std.AF_INET
AF_INET6 = _std.AF_INET6
SOCK_STREAM = _std.SOCK_STREAM
SOCK_DGRAM = _std.SOCK_DGRAM
SOCK_NONBLOCK = getattr(_std, "SOCK_NONBLOCK", 0o4000)
SOCK_CLOEXEC = getattr(_std, "SOCK_CLOEXEC", 0o2000000)
SOL_SOCKET = _std.SOL_SOCKET
SO_REUSEADDR = _std.SO_REUSEADDR
SO_REUSEPORT = getattr(_std, "SO_REUSEPORT", 15)
SO_KEEPALIVE = _std.SO_KEEPALIVE
SO_RCVBUF = _std.SO_RCVBUF
SO_SNDBUF = _std.SO_SNDBUF
SO_BROADCAST = _std.SO_BROADCAST
SO_ERROR = _std.SO_ERROR
SO_TYPE = _std.SO_TYPE
IPPROTO_IP = _std.IPPROTO_IP
IPPROTO_TCP = _std.IPPROTO_TCP
IPPROTO_UDP = _std.IPPROTO_UDP
TCP_NODELAY = _std.TCP_NODELAY
IP_TTL = _std.IP_TTL
SHUT_RD = _std.SHUT_RD
SHUT_WR = _std.SHUT_WR
SHUT_RDWR = _std.SHUT_RDWR
INADDR_ANY = 0
INADDR_LOOPBACK = 0x7F000001
SOMAXCONN = 4096
has_ipv6 = False

# ----- exceptions -----

error = OSError
timeout = TimeoutError
herror = _std.herror
gaierror = _std.gaierror

# ----- helpers shared with the standard module -----

htons = _std.htons
ntohs = _std.ntohs
htonl = _std.htonl
ntohl = _std.ntohl
inet_aton = _std.inet_aton
inet_ntoa = _std.inet_ntoa
inet_pton = _std.inet_pton
inet_ntop = _std.inet_ntop
gethostname = _std.gethostname
_GLOBAL_DEFAULT_TIMEOUT = _std._GLOBAL_DEFAULT_TIMEOUT

_default_timeout = None


def getdefaulttimeout():
    """The timeout new sockets start with (None: blocking)."""
    return _default_timeout


def setdefaulttimeout(value):
    """Sets the timeout new sockets start with."""
    global _default_timeout
    _default_timeout = _check_timeout(value)


def _check_timeout(value):
    if value is None:
        return None
    value = float(value)
    if value < 0:
        raise ValueError("Timeout value out of range")
    return value


def gethostbyname(host):
    """An IPv4 address for `host`; ``localhost`` is strata's 127.0.0.1."""
    return _resolve(host)


AI_PASSIVE = _std.AI_PASSIVE


def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
    """IPv4 addresses for (host, port), as :func:`socket.getaddrinfo`
    gives them: ``[(AF_INET, type, proto, '', (address, port)), ...]``."""
    if family not in (0, AF_INET):
        raise gaierror(_std.EAI_FAMILY, "strata has IPv4 only")
    if isinstance(port, str):
        port = int(port) if port.isdigit() else _std.getservbyname(port)
    passive = bool(flags & AI_PASSIVE)
    address = _resolve("" if host is None else host, bind=passive)
    kinds = [type] if type else [SOCK_STREAM, SOCK_DGRAM]
    out = []
    for k in kinds:
        p = proto or (IPPROTO_TCP if k == SOCK_STREAM else IPPROTO_UDP)
        out.append((_std.AddressFamily(AF_INET), _std.SocketKind(k), p, "", (address, port or 0)))
    return out


def _resolve(host, bind=False):
    if host in ("", "0.0.0.0") and bind:
        return "0.0.0.0"
    if host == "":
        return "127.0.0.1"
    if host == "<broadcast>":
        return "255.255.255.255"
    if host == "localhost":
        return "127.0.0.1"
    try:
        return str(_ipaddress.IPv4Address(host))
    except ValueError:
        pass
    # A name: the host's resolver (/etc/hosts, DNS) finds its address.
    return _std.gethostbyname(host)


def _address(address, bind=False):
    if not isinstance(address, tuple) or len(address) != 2:
        raise TypeError("AF_INET address must be a tuple (host, port)")
    host, port = address
    if not isinstance(port, int):
        raise TypeError("'%s' object cannot be interpreted as an integer" % type(port).__name__)
    if not 0 <= port <= 65535:
        raise OverflowError("port must be 0-65535.")
    if isinstance(host, bytes):
        host = host.decode("idna")
    return _resolve(host, bind), port


def _int_option(value):
    if isinstance(value, (bytes, bytearray)):
        return int.from_bytes(bytes(value[:4]).ljust(4, b"\0"), "little", signed=True)
    return int(value)


class socket:
    """A strata socket: the methods and behaviour of :class:`socket.socket`."""

    def __init__(self, family=AF_INET, type=SOCK_STREAM, proto=0, fileno=None, *, _net=None, _sock=None):
        if fileno is not None:
            raise OSError(_errno.EBADF, "strata sockets cannot wrap kernel descriptors")
        if family not in (AF_INET, -1):
            raise OSError(_errno.EAFNOSUPPORT, "Address family not supported by strata (AF_INET only)")
        kind = int(type) & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)
        if kind not in (SOCK_STREAM, SOCK_DGRAM):
            raise OSError(_errno.EPROTONOSUPPORT, "strata has SOCK_STREAM and SOCK_DGRAM only")
        self._net = _net if _net is not None else _strata.default_net()
        self._sock = _sock if _sock is not None else _strata.Socket(self._net, kind)
        self._family = AF_INET
        self._type = SOCK_STREAM if kind == SOCK_STREAM else SOCK_DGRAM
        self._proto = proto or (IPPROTO_TCP if kind == SOCK_STREAM else IPPROTO_UDP)
        self._timeout = 0.0 if int(type) & SOCK_NONBLOCK else _default_timeout
        self._io_refs = 0
        self._closed = False

    # --- identity ---

    family = property(lambda self: _std.AddressFamily(self._family))
    type = property(lambda self: _std.SocketKind(self._type))
    proto = property(lambda self: self._proto)

    def fileno(self):
        """An identifier for selectors (not a kernel descriptor; -1 once closed)."""
        return -1 if self._closed else self._sock.fileno()

    def __repr__(self):
        s = "<strata.socket.socket%s fd=%d, family=%s, type=%s, proto=%d" % (
            " [closed]" if self._closed else "",
            self.fileno(),
            self.family,
            self.type,
            self._proto,
        )
        if not self._closed:
            for name, f in (("laddr", self.getsockname), ("raddr", self.getpeername)):
                try:
                    s += ", %s=%s" % (name, f())
                except OSError:
                    pass
        return s + ">"

    def __enter__(self):
        return self

    def __exit__(self, *args):
        self.close()

    def __getstate__(self):
        raise TypeError("cannot pickle %r object" % type(self).__name__)

    def _check(self):
        if self._closed:
            raise OSError(_errno.EBADF, "Bad file descriptor")

    # --- timeouts ---

    def settimeout(self, value):
        """None: blocking; 0: non-blocking; t > 0: wait up to t seconds."""
        self._timeout = _check_timeout(value)

    def gettimeout(self):
        return self._timeout

    def setblocking(self, flag):
        self._timeout = None if flag else 0.0

    def getblocking(self):
        return self._timeout != 0.0

    # --- connection set-up ---

    def bind(self, address):
        self._check()
        self._sock.bind(*_address(address, bind=True))

    def listen(self, backlog=128):
        self._check()
        self._sock.listen(int(backlog))

    def _accept(self):
        self._check()
        sock, addr = self._sock.accept(self._timeout)
        return socket(self._family, self._type, self._proto, _net=self._net, _sock=sock), addr

    def accept(self):
        """Waits for a connection: ``(conn, (host, port))``."""
        conn, addr = self._accept()
        if _default_timeout is None and self.gettimeout():
            conn.setblocking(True)
        return conn, addr

    def connect(self, address):
        self._check()
        host, port = _address(address)
        self._sock.connect(host, port, self._timeout)

    def connect_ex(self, address):
        """Like connect, but returns an errno (0 on success) instead of raising."""
        try:
            self.connect(address)
        except TimeoutError:
            return _errno.EAGAIN
        except OSError as e:
            if e.errno is None:
                raise
            return e.errno
        return 0

    # --- data ---

    def send(self, data, flags=0):
        self._check()
        _no_flags(flags)
        return self._sock.send(bytes(memoryview(data)), self._timeout)

    def sendall(self, data, flags=0):
        """Sends everything (the timeout covers the whole call)."""
        self._check()
        _no_flags(flags)
        view = memoryview(data).cast("B")
        total = len(view)
        sent = 0
        deadline = None
        if self._timeout:
            deadline = _time.monotonic() + self._timeout
        while sent < total:
            t = self._timeout
            if deadline is not None:
                t = deadline - _time.monotonic()
                if t <= 0:
                    raise TimeoutError("timed out")
            sent += self._sock.send(bytes(view[sent : sent + (1 << 20)]), t)
        return None

    def sendto(self, data, flags_or_addr, addr=None):
        self._check()
        if addr is None:
            addr, flags = flags_or_addr, 0
        else:
            flags = flags_or_addr
        _no_flags(flags)
        host, port = _address(addr)
        return self._sock.sendto(bytes(memoryview(data)), host, port, self._timeout)

    def recv(self, bufsize, flags=0):
        self._check()
        _no_flags(flags)
        if bufsize < 0:
            raise ValueError("negative buffersize in recv")
        return self._sock.recvfrom(bufsize, self._timeout)[0]

    def recvfrom(self, bufsize, flags=0):
        self._check()
        _no_flags(flags)
        if bufsize < 0:
            raise ValueError("negative buffersize in recvfrom")
        return self._sock.recvfrom(bufsize, self._timeout)

    def recv_into(self, buffer, nbytes=0, flags=0):
        return self.recvfrom_into(buffer, nbytes, flags)[0]

    def recvfrom_into(self, buffer, nbytes=0, flags=0):
        self._check()
        _no_flags(flags)
        view = memoryview(buffer).cast("B")
        if nbytes < 0:
            raise ValueError("negative buffersize in recv_into")
        if nbytes == 0 or nbytes > len(view):
            if nbytes > len(view):
                raise ValueError("buffer too small for requested bytes")
            nbytes = len(view)
        data, addr = self._sock.recvfrom(nbytes, self._timeout)
        view[: len(data)] = data
        return len(data), addr

    # --- teardown ---

    def shutdown(self, how):
        self._check()
        self._sock.shutdown(int(how))

    def close(self):
        """Closes the socket (once the files made by makefile() are closed too)."""
        self._closed = True
        if self._io_refs <= 0:
            self._sock.close()

    def detach(self):
        raise OSError(_errno.EOPNOTSUPP, "strata sockets have no kernel descriptor to detach")

    def _decref_socketios(self):
        if self._io_refs > 0:
            self._io_refs -= 1
        if self._closed:
            self.close()

    # --- addresses and options ---

    def getsockname(self):
        self._check()
        return self._sock.getsockname()

    def getpeername(self):
        self._check()
        return self._sock.getpeername()

    def setsockopt(self, level, optname, value, optlen=None):
        self._check()
        self._sock.setsockopt(int(level), int(optname), _int_option(value))

    def getsockopt(self, level, optname, buflen=None):
        self._check()
        v = self._sock.getsockopt(int(level), int(optname))
        if buflen is None:
            return v
        return v.to_bytes(4, "little", signed=True)[:buflen].ljust(buflen, b"\0")

    # --- files ---

    def makefile(self, mode="r", buffering=None, *, encoding=None, errors=None, newline=None):
        """A file object over the socket, as :meth:`socket.socket.makefile`."""
        if not set(mode) <= {"r", "w", "b"}:
            raise ValueError("invalid mode %r (only r, w, b allowed)" % (mode,))
        writing = "w" in mode
        reading = "r" in mode or not writing
        binary = "b" in mode
        rawmode = ("r" if reading else "") + ("w" if writing else "")
        raw = _std.SocketIO(self, rawmode)
        self._io_refs += 1
        if buffering is None:
            buffering = -1
        if buffering < 0:
            buffering = _io.DEFAULT_BUFFER_SIZE
        if buffering == 0:
            if not binary:
                raise ValueError("unbuffered streams must be binary")
            return raw
        if reading and writing:
            buffer = _io.BufferedRWPair(raw, raw, buffering)
        elif reading:
            buffer = _io.BufferedReader(raw, buffering)
        else:
            buffer = _io.BufferedWriter(raw, buffering)
        if binary:
            return buffer
        text = _io.TextIOWrapper(buffer, encoding or "utf-8", errors, newline)
        text.mode = mode
        return text

    # --- strata ---

    @property
    def net(self):
        """The strata stack this socket lives on."""
        return self._net

    def _readiness(self):
        return self._sock.readiness()


SocketType = socket


def _no_flags(flags):
    if flags:
        raise OSError(_errno.EOPNOTSUPP, "strata sockets take no MSG_* flags")


def create_connection(address, timeout=_GLOBAL_DEFAULT_TIMEOUT, source_address=None, *, all_errors=False, _net=None):
    """Connects a TCP socket to (host, port) and returns it."""
    host, port = address
    sock = socket(AF_INET, SOCK_STREAM, _net=_net)
    try:
        if timeout is not _GLOBAL_DEFAULT_TIMEOUT:
            sock.settimeout(timeout)
        if source_address:
            sock.bind(source_address)
        sock.connect((host, port))
        return sock
    except BaseException:
        sock.close()
        raise


def has_dualstack_ipv6():
    return False


def create_server(address, *, family=AF_INET, backlog=None, reuse_port=False, dualstack_ipv6=False, _net=None):
    """A TCP socket bound to `address` and listening."""
    if family != AF_INET or dualstack_ipv6:
        raise ValueError("strata has IPv4 only")
    sock = socket(AF_INET, SOCK_STREAM, _net=_net)
    try:
        sock.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(SOL_SOCKET, SO_REUSEPORT, 1)
        sock.bind(address)
        if backlog is None:
            sock.listen()
        else:
            sock.listen(backlog)
        return sock
    except BaseException:
        sock.close()
        raise


def socketpair(family=AF_INET, type=SOCK_STREAM, proto=0, *, _net=None):
    """Two connected TCP sockets over strata's loopback."""
    if family != AF_INET or type != SOCK_STREAM:
        raise OSError(_errno.EOPNOTSUPP, "strata socketpair is AF_INET SOCK_STREAM")
    with socket(AF_INET, SOCK_STREAM, _net=_net) as lsock:
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(1)
        a = socket(AF_INET, SOCK_STREAM, _net=_net)
        a.connect(lsock.getsockname())
        b, _ = lsock.accept()
    return a, b
