"""``python -m naikit.cli``: the same command as the ``naikit`` script (and ``python -m naikit``)."""

from __future__ import annotations

import sys

from . import main

sys.exit(main())
