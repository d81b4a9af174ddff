//! The stack: ties the layers together; the public entry point.
