"""Leaderboards: snapshots refreshed by the aggregation job, read by cheap polls."""
