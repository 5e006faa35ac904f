"""Proofs (`make proofs`): kill -9, fuzzing, a login flood against a running kiosk.

Each proof prints one line with its figure and fails the run when what it proves does not hold.
"""
