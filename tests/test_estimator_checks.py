"""scikit-learn's own estimator checks on a tiny configuration of DiffusionDenoiser."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from gahb import DiffusionDenoiser

# Every check is expected to pass; none is listed as an expected failure.
EXPECTED_FAILED_CHECKS: dict = {}


def _tiny():
    return DiffusionDenoiser(width=4, n_blocks=1, max_iter=3, batch_size=4, random_state=0, device="cpu")


@parametrize_with_checks([_tiny()], expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS)
def test_sklearn_compatible(estimator, check):
    check(estimator)
