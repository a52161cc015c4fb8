"""End-to-end tests: coordinator and workers as separate processes over MongoDB.

Each test starts ``python -m coordinator run`` and ``python -m worker`` processes against
the test's MongoDB database (the stand-in, or the real server ``OCRTUNE_TEST_MONGO_URI``
names), evaluates real OCR on the sample data in ``data/``, and looks at the outcome
through the trial store and the programs' logs. Every process a test starts is killed at
teardown, whatever the test's outcome. Linux only: processes are inspected through /proc.
"""
