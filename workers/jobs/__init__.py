"""Jobs run by workers; enqueued by dotted name with IDs only."""
