"""``python -m pytransformer``: the ``pytransformer`` command."""

import sys

from .cli import main

sys.exit(main())
