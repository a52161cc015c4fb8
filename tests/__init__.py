"""ocr-tune test suite (see README: Tests)."""
