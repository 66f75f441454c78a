"""Pure domain code: protocols, calibration, statistics, parsing. No I/O, no frameworks."""
