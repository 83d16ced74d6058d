"""`python -m hermes_hw` is the same as the `hermes` command."""

from hermes_hw.cli.main import main

raise SystemExit(main())
