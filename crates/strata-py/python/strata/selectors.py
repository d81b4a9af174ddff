"""A :mod:`selectors` selector for strata sockets.

``strata.selectors.DefaultSelector`` (= :class:`StrataSelector`) has the
interface of the standard selectors: register, unregister, modify, select,
get_key, get_map, close.
"""

import selectors as _std
from selectors import EVENT_READ, EVENT_WRITE, BaseSelector, SelectorKey  # noqa: F401

from . import _strata


class StrataSelector(_std._BaseSelectorImpl):
    """Selects over strata sockets."""

    def select(self, timeout=None):
        if timeout is not None:
            timeout = max(float(timeout), 0.0)
        keys = list(self._fd_to_key.values())
        rkeys = [k for k in keys if k.events & EVENT_READ]
        wkeys = [k for k in keys if k.events & EVENT_WRITE]
        ri, wi = _strata.select(
            [k.fileobj._sock for k in rkeys],
            [k.fileobj._sock for k in wkeys],
            timeout,
        )
        ready = {}
        for i in ri:
            ready[rkeys[i].fd] = ready.get(rkeys[i].fd, 0) | EVENT_READ
        for i in wi:
            ready[wkeys[i].fd] = ready.get(wkeys[i].fd, 0) | EVENT_WRITE
        return [(self._fd_to_key[fd], ev & self._fd_to_key[fd].events) for fd, ev in ready.items()]

    def register(self, fileobj, events, data=None):
        if not isinstance(getattr(fileobj, "_sock", None), _strata.Socket):
            raise ValueError("StrataSelector takes strata sockets, got %r" % (fileobj,))
        return super().register(fileobj, events, data)


DefaultSelector = StrataSelector
