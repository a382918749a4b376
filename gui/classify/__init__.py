"""The Classify tab: layout, runs, triage and output, the scripted start."""
