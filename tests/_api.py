"""The public API as the tests see it: the functions and classes named by the ``__all__`` of given modules."""

import importlib


def public(modules, keep):
    """``(name, object)`` pairs, sorted and without repeats, for the ``__all__`` entries that ``keep`` accepts."""
    found = {}
    for name in modules:
        module = importlib.import_module(name)
        for attr in module.__all__:
            obj = getattr(module, attr)
            if keep(obj):
                found.setdefault(f"{obj.__module__}.{obj.__qualname__}", obj)
    return sorted(found.items())
