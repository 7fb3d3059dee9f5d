"""Bulk CSV: templates, account and invoice imports, exports, and the import history."""
