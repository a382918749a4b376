"""`pigeonhole bench`: the measurements and the run that compares them."""
