"""``python -m d2lnets`` is the ``d2lnets`` command."""
import sys

from .cli import main

sys.exit(main())
