"""Pure functions of the catalog auditor: rules, update periods, text normalisation, duplicate detection."""
