"""``python -m backend`` runs the ``autoretouch`` CLI."""

from __future__ import annotations

import sys

from backend.cli.main import main

sys.exit(main())
