"""``python -m bench.proofs``: run the proofs (see bench/proofs/runner.py)."""

import sys

from bench.proofs.runner import main

sys.exit(main())
