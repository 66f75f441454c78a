"""Comparisons: the paired regression gate between two evaluations."""
