//! TODO(wire helper): port
