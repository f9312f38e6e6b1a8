"""Produce listings with grades, origin and traceable batches; search; import and export; trace pages."""
