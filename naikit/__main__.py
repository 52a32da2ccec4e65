"""``python -m naikit``: the same command as the ``naikit`` script."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
