"""PV plant inspection: flight planning, thermal hot-spot and soiling analytics, cleaning dispatch."""
