"""What a run gives: prediction records, evaluation against folder labels, metrics, sorting into
class folders, and writing results to CSV/JSON."""
