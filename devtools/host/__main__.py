"""``python -m devtools.host``: the development host (``python -m leads serve`` starts this too, from a clone)."""

from devtools.host.server import main

raise SystemExit(main())
