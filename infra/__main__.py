"""``python -m infra``: synth, demo and run (see infra/cli.py)."""

import sys

from infra.cli import main

sys.exit(main())
