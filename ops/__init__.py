"""Operations: diagnostics, status page, maintenance mode, backups, the Support group."""
