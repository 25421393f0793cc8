"""`make bench`: the service's upload, download and listing throughput on loopback, each figure
next to a peer (dd, nginx, a discard sink) and its target. Run with `python -m bench`."""
