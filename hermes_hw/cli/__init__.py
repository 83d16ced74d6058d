"""The `hermes` command line: one module per subcommand, discovered by main.command_modules()."""
