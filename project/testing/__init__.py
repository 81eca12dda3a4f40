"""Test infrastructure: real Redis, PostgreSQL and daphne servers for pytest."""
