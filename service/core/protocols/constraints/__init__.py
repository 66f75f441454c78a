"""The constraints protocol: models.py (what it accepts), verifiers.py (IFEval's checks), protocol.py (the rest).

Ports IFEval (google-research ``instruction_following_eval``, Apache-2.0): see NOTICE in this package.
"""
