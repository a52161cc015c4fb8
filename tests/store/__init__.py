"""Tests of the trial stores: one contract suite (``contract.py``) that every store passes."""
