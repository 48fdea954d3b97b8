import pytest
from hypothesis import settings

settings.register_profile("gahb", deadline=None, max_examples=25, derandomize=True)
settings.load_profile("gahb")


@pytest.fixture
def rng():
    import numpy as np

    return np.random.default_rng(0)
