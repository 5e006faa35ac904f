"""``python -m bench.platform``: run the platform proof (see bench/platform/runner.py)."""

import sys

from bench.platform.runner import main

sys.exit(main())
