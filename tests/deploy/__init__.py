"""Readers for the deployment files, for the static checks in tests/test_deploy*.py."""
