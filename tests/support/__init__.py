"""Test infrastructure (never product code): fakes and helpers shared by tests and benchmarks."""
