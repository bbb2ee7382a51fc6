"""The compiled build: the hot path's modules compiled by mypyc from the same typed source, as black and
charset-normalizer ship theirs. Everything else about the package is in pyproject.toml.

The build compiles where a C compiler is present and falls back to the pure package where none is, or
where STREAMPROC_PURE=1 asks for it; both builds behave the same (the test suite runs against each).
mypyc type-checks what it compiles, so the compiled build needs the project's dependencies installed:
`make` installs them first, then runs `setup.py build_ext --inplace` (see the Makefile).
"""

from __future__ import annotations

import os
import sys

from setuptools import setup

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from streamproc.buildinfo import COMPILED_MODULES, compiler_present, pure_requested


def ext_modules() -> list[object]:
    if pure_requested():
        return []
    if not compiler_present():
        print("streamproc: no C compiler found; building the pure package", file=sys.stderr)
        return []
    from mypyc.build import mypycify

    paths = [name.replace(".", "/") + ".py" for name in COMPILED_MODULES]

    # One extension holding every compiled module (calls between them stay native), named inside the
    # package so that an editable install finds it as it finds the modules.
    return list(mypycify(paths, opt_level="3", group_name="streamproc._compiled"))


setup(ext_modules=ext_modules())
