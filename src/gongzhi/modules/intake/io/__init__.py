"""Readers and writers of outside formats: spreadsheets, Open311 XML/JSON, hot-topic and stats workbooks."""
