"""`make bench`: what the gateway costs, measured against calling a service directly."""
