"""Every public object of the functions side and of the torch core has a runnable Examples section and a See Also.

The Examples run as doctests in the default test run (``--doctest-modules`` over ``gahb/``, see pyproject.toml).
"""

import inspect

import pytest
from _api import public

MODULES = ["gahb.metrics", "gahb.datasets", "gahb.experiments", "gahb.experiments.optimality", "gahb.report",
           "gahb.core.nn", "gahb.core.training", "gahb.core.sampling", "gahb.core.jacobian", "gahb.core.operators",
           "gahb.core.optimal", "gahb.core.random", "gahb.core.cost", "gahb.core.vectorized"]


OBJECTS = public(MODULES, lambda obj: inspect.isfunction(obj) or inspect.isclass(obj))


def test_objects_found():
    assert len(OBJECTS) >= 90


@pytest.mark.parametrize("name, obj", OBJECTS, ids=[n for n, _ in OBJECTS])
def test_examples_and_see_also(name, obj):
    doc = inspect.getdoc(obj) or ""
    for section in ("See Also\n--------", "Examples\n--------"):
        assert section in doc, f"{name} has no {section.splitlines()[0]!r} section"
    examples = doc.split("Examples\n--------", 1)[1]
    assert ">>> " in examples, f"{name}: the Examples section has no doctest"
