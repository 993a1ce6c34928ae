//! Embedded figure configurations (filled below).
