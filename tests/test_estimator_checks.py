"""scikit-learn's own estimator checks on tiny configurations of every public estimator.

Every check is expected to pass: none is listed as an expected failure.
"""

import torch
from sklearn.utils.estimator_checks import parametrize_with_checks

from gahb import DiffusionDenoiser, GAHBShrinkage, JacobianEigenbasis, MemorizingDenoiser, TrainingSubset


class TinyBiasFreeNet(torch.nn.Sequential):
    """A user's own bias-free network (one channel in and out), as ``architecture=``."""

    def __init__(self):
        super().__init__(torch.nn.Conv2d(1, 4, 3, padding=1, bias=False), torch.nn.ReLU(),
                         torch.nn.Conv2d(4, 1, 3, padding=1, bias=False))


def _tiny(**params):
    return DiffusionDenoiser(width=4, n_blocks=1, max_iter=3, batch_size=4, random_state=0, device="cpu", **params)


ESTIMATORS = [
    _tiny(),
    # A module *instance* is checked by tests/test_custom_architecture.py instead: check_estimators_overwrite_params
    # compares joblib hashes of the parameters and their deep copies, and a torch tensor's pickle (hence its hash)
    # names its storage, so a copied module never hashes equal to the original even when nothing changed.
    _tiny(architecture=TinyBiasFreeNet),
    JacobianEigenbasis(_tiny()),
    GAHBShrinkage(_tiny()),
    GAHBShrinkage(basis="wavelet", shrinkage="soft", sigma=0.1),
    GAHBShrinkage(basis="dct", shrinkage="hard", sigma=0.1),
    GAHBShrinkage(basis="pca", shrinkage="soft", sigma=0.1),
    MemorizingDenoiser(device="cpu"),
    TrainingSubset(MemorizingDenoiser(device="cpu")),
    TrainingSubset(_tiny()),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible(estimator, check):
    check(estimator)
