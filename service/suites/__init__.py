"""Suites: named, versioned benchmark items stored once and reused by evaluations."""
