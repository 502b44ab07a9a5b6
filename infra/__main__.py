"""``python -m infra``: synth, docs, check, layers, demo and run (see infra/cli/)."""

import sys

try:
    from infra.cli import main
except KeyboardInterrupt:  # Ctrl-C while the modules load
    print("interrupted", file=sys.stderr)
    sys.exit(130)

sys.exit(main())
