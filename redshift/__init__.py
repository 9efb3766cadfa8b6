"""Warehouse SQL (Redshift dialect, the single source), the dialect layer, and the loader."""
