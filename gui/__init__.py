"""Pigeonhole's Qt front end: thin, turns user actions into core calls and core events into views."""
