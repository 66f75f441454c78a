"""The human review queue: items flagged by BPDE, labelled by people, fed back into metrics."""
