"""Evaluations: schemas, repository (all queries) and service logic."""
