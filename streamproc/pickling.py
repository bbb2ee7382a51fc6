"""Pickling frozen dataclasses in the compiled build.

Pickle restores an object by setting its fields one by one, which a frozen dataclass refuses once mypyc
has compiled it (its `__setattr__` is the real one); batch workers send options and results between
processes. A frozen dataclass there defines `__reduce__` as `return frozen_reduce(self)`: it is rebuilt
by calling the class with its fields, as the program builds it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any


def frozen_reduce(obj: Any) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    """`obj.__reduce__()` for a frozen dataclass whose fields are all `__init__` arguments."""
    state = {field.name: getattr(obj, field.name) for field in dataclasses.fields(obj)}
    return _rebuild, (type(obj), state)


def _rebuild(cls: Callable[..., Any], state: dict[str, Any]) -> Any:
    return cls(**state)
