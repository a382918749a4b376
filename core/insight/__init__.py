"""What the data says beyond the labels: duplicates and leaks between folders (duplicates)."""
