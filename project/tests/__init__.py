"""Tests of the project package: the test servers and the embedded runner."""
