"""Use cases over ports: the service's behaviour, with no framework, driver or wire format."""
