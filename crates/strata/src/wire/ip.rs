//! TODO(wire helper): ip
