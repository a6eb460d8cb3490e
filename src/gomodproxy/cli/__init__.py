"""Command-line interface: subcommands are discovered from ``cmd_*.py`` modules here."""
