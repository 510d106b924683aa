"""Quality and speed benchmarks behind `make bench`; what they share is in benchmarks.common."""
