//! UDP (RFC 768): datagram sockets and ephemeral ports.
