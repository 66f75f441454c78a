"""Judge workers: one engine per process, chunks of items from one judge's RQ queue."""
