import os

import pytest
import torch

# Two cores are shared by everything on the CI machine: one intra-op thread keeps runs predictable.
torch.set_num_threads(int(os.environ.get("GAHB_TEST_THREADS", "1")))

from hypothesis import settings  # noqa: E402

settings.register_profile("gahb", deadline=None, max_examples=25, derandomize=True)
settings.load_profile("gahb")


@pytest.fixture
def rng():
    import numpy as np

    return np.random.default_rng(0)
