"""Shared Qt pieces: drop zone, model panel, plots, thumbnails, preview, tables, workers."""
