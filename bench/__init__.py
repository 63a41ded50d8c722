"""Load scenarios and the runner behind `make bench` (`python -m bench`)."""
