"""pytest set-up shared by the tests and the doctests of the package (the README's test command runs both)."""

import os

import torch

# Two cores are shared by everything on the CI machine: one intra-op thread keeps runs predictable.
torch.set_num_threads(int(os.environ.get("GAHB_TEST_THREADS", "1")))

# ``python -m gahb`` runs the command when imported: not a module to collect doctests from
collect_ignore = ["gahb/__main__.py"]
