"""One validation layer: every public function checks its arguments with scikit-learn's ``validate_params``.

The same mistake (a wrong type, a value out of range, an unknown option) raises the same exception,
``InvalidParameterError`` (a ``ValueError`` and ``TypeError``), naming the argument and the function,
before any work.
"""

import inspect

import pytest
from _api import public
from sklearn.utils._param_validation import (
    InvalidParameterError,
    generate_invalid_param_val,
    generate_valid_param,
    make_constraint,
)

MODULES = ["gahb.metrics", "gahb.datasets", "gahb.experiments", "gahb.experiments.optimality"]


FUNCTIONS = [(obj.__qualname__, obj) for _, obj in
             public(MODULES, lambda obj: inspect.isfunction(obj) and inspect.signature(obj).parameters)]


def test_the_functions_are_found():
    names = {name for name, _ in FUNCTIONS}
    assert {"memorization_rate", "make_c_alpha", "load_fashion_mnist", "generalization_curve",
            "c_alpha_optimality", "psnr_curve"} <= names
    assert len(FUNCTIONS) >= 35


@pytest.mark.parametrize("name, func", FUNCTIONS, ids=[n for n, _ in FUNCTIONS])
def test_every_argument_is_validated(name, func):
    constraints = getattr(func, "_skl_parameter_constraints", None)
    assert constraints is not None, f"{name} is not decorated with validate_params"
    params = inspect.signature(func).parameters
    assert set(constraints) == set(params), f"{name}: constraints {sorted(constraints)} vs arguments {sorted(params)}"

    # the smallest call that passes validation: a valid value of the first constraint of each required argument
    required = {p: generate_valid_param(make_constraint(constraints[p][0]))
                for p, spec in params.items() if spec.default is inspect.Parameter.empty}
    bad_type = type("BadType", (), {})()
    for param in params:
        message = rf"The '{param}' parameter of {name} must be .* Got .* instead\."
        with pytest.raises(InvalidParameterError, match=message):
            func(**{**required, param: bad_type})
        for constraint in map(make_constraint, constraints[param]):
            try:
                bad_value = generate_invalid_param_val(constraint)
            except NotImplementedError:  # nothing of this type is out of range (e.g. any array)
                continue
            with pytest.raises(InvalidParameterError, match=message):
                func(**{**required, param: bad_value})


def test_same_mistake_same_exception(tmp_path):
    import numpy as np

    from gahb import MemorizingDenoiser
    from gahb.datasets import make_disks, remove_near_duplicates
    from gahb.experiments import generalization_curve
    from gahb.metrics import memorization_rate, score_generalization

    X = np.random.default_rng(0).random((8, 16))
    calls = [
        lambda: make_disks(0),
        lambda: score_generalization(X, X, n_samples=0),
        lambda: generalization_curve(MemorizingDenoiser(), X, [1, 2], n_samples=0),
        lambda: remove_near_duplicates(X, (4, 4), block_size=0),
        lambda: memorization_rate(X, X, chunk_size=0),
    ]
    for call in calls:
        with pytest.raises(InvalidParameterError) as info:
            call()
        assert isinstance(info.value, ValueError) and isinstance(info.value, TypeError)


def test_generalization_curve_checks_everything_before_the_first_fit():
    import numpy as np

    from gahb.experiments import generalization_curve

    class Spy:
        fits = 0

        def get_params(self, deep=True):
            return {}

        def set_params(self, **params):
            return self

        def fit(self, X):
            Spy.fits += 1
            return self

        def sample(self, n_samples, random_state=None):
            return np.zeros((n_samples, 16))

    X = np.random.default_rng(0).random((8, 16))
    bad = [{"threshold": 2.0}, {"epsilon": 1.0}, {"n_jobs": 1.5}, {"verbose": -1}, {"shuffle": "yes"},
           {"sigmas": [0.1, -1.0]}, {"n_psnr_images": 0}, {"random_state": -1}, {"image_shape": (3, 3)},
           {"sizes": [1, 0]}, {"sizes": [5]}, {"X_B": X[:, :4]}]
    for kwargs in bad:
        with pytest.raises((ValueError, TypeError)):
            generalization_curve(Spy(), X, **{"sizes": [1, 2], "verbose": 0, **kwargs})
    assert Spy.fits == 0
