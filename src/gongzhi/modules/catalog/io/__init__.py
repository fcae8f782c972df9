"""Readers and writers of outside catalog formats: Chinese catalogs, data.json, code.json, DCAT, Excel."""
