"""The coordinator: runs the search, keeps workers supplied, reports the results."""
