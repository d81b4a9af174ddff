//! Layer 2: the Ethernet interface, ARP cache and the queue of packets
//! waiting for address resolution.
