"""Benchmarks (`make bench`) and proofs (`make proofs`): measured on real parts, never mocks.

``python -m bench`` runs the benchmarks and writes ``bench/results.json``; ``python -m
bench.proofs`` runs the proofs. Neither is part of ``make test``: they take minutes.
"""
