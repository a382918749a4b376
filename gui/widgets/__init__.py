"""Shared Qt pieces (never importing a tab): drop zone, model panel, plots, thumbnails, preview,
tables, workers, and the result row and label picker the tabs share."""
