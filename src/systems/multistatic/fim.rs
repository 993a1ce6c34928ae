//! Delay–Doppler FIM of one receiver (Proposition 3.1, re-derived). In progress.
