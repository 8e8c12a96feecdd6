"""``python -m devtools.host``: the same as ``python -m leads serve``."""

from devtools.host.server import main

raise SystemExit(main())
