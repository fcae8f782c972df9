"""Pure PV analytics: numbers in, numbers out (no database, web, I/O or logging)."""
