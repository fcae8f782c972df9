"""Readers and writers of outside PV formats (flight plans, thermal frames)."""
