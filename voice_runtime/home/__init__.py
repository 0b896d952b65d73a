"""hearth: the home server supervisor (``hearth serve``), its config, status and systemd units."""
