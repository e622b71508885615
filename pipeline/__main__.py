"""``python -m pipeline`` is the ``avatar`` command."""

import sys

from pipeline.cli import main

sys.exit(main())
