"""Test utilities shared by the test-suite (fixture generators)."""
