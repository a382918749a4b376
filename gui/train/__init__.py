"""The Train tab: its panels, plots and results."""
