"""``python -m driftd``: the same as the ``driftd`` command."""

import sys

from driftd.cli import main

sys.exit(main())
