"""``python -m infra``: synth, docs, check, layers, demo and run (see infra/cli/)."""

import os
import sys

try:
    from infra.cli import EXIT_INTERRUPTED, main
except KeyboardInterrupt:  # Ctrl-C while the modules load
    print("interrupted", file=sys.stderr)
    sys.exit(130)

code = main()
if code == EXIT_INTERRUPTED:
    # The sandbox is already torn down; an execution still running in the emulator's worker
    # threads is not waited for (nor interrupted a second time while Python joins them).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
sys.exit(code)
