"""Trial stores: the interface and its SQLite and MongoDB implementations."""
