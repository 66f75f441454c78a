"""The rating protocol: models.py (what it accepts), protocol.py (how it judges and aggregates)."""
