"""`python -m streamproc.cli ...` is `streamproc ...`."""

from __future__ import annotations

from streamproc.cli import main

raise SystemExit(main())
