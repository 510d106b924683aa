"""Quality and speed benchmarks behind `make bench`."""
