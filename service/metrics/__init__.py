"""Prometheus metrics read at scrape time from the database and Redis (workers are other processes)."""
