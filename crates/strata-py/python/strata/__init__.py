"""strata from Python.

``from strata import socket`` gives a module shaped like Python's own
:mod:`socket` whose sockets run on the strata TCP/IP stack instead of the
kernel's: a program written for the standard module runs on strata by
changing its import line only.

- :mod:`strata.socket` -- sockets (AF_INET, SOCK_STREAM and SOCK_DGRAM);
- :mod:`strata.select` and :mod:`strata.selectors` -- readiness over them;
- :class:`strata.Lab` -- a simulated network (rate, delay, loss, reordering,
  duplication, corruption, MTU) whose hosts each have their own sockets,
  with a pcap capture and a ladder diagram of what crossed it.

With no set-up the sockets live on one strata stack in this process, on its
loopback interface (127.0.0.0/8). With ``STRATA_TAP=tap0
STRATA_ADDR=10.20.0.2/24`` (and optionally ``STRATA_GATEWAY``) in the
environment the same stack is also attached to that TAP interface, so the
kernel (curl, a browser) can reach it.
"""

from . import _strata
from ._strata import Net
from .lab import Host, Lab

__all__ = ["Host", "Lab", "Net", "default_net"]


def default_net():
    """The process's default strata stack (made on first use)."""
    return _strata.default_net()
