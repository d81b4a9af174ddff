"""``select()`` over strata sockets (a subset of :mod:`select`)."""

from . import _strata

error = OSError


def _native(obj):
    s = getattr(obj, "_sock", None)
    if not isinstance(s, _strata.Socket):
        raise TypeError("strata.select works on strata sockets, got %r" % (obj,))
    return s


def select(rlist, wlist, xlist, timeout=None):
    """Waits until some of `rlist` can be read or `wlist` written, up to
    `timeout` seconds (None: forever; 0: just look). Returns the three lists
    of ready objects; strata has no exceptional conditions, so the third is
    always empty."""
    if timeout is not None:
        timeout = float(timeout)
        if timeout < 0:
            raise ValueError("timeout must be non-negative")
    rlist, wlist = list(rlist), list(wlist)
    for obj in xlist:
        _native(obj)
    ri, wi = _strata.select([_native(o) for o in rlist], [_native(o) for o in wlist], timeout)
    return [rlist[i] for i in ri], [wlist[i] for i in wi], []
