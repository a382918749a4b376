"""What the data says beyond the labels: duplicates and leaks between folders (duplicates),
images like a given one (similarity), a 2-D map of the folder (projection, map_points)."""
