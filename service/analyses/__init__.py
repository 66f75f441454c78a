"""Analyses across evaluations: rating vs ranking consistency."""
