"""``python -m gahb``: the ``gahb`` command (also what ``torchrun -m gahb ...`` runs)."""

import sys

from gahb.cli import main

sys.exit(main())
