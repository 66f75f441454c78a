"""Idempotency-Key handling for POSTs that create something."""
