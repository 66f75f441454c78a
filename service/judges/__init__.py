"""Judges: the bundled judge model (``bundled``) and which judges live workers serve (``heartbeats``)."""
