"""The spine benchmark's workloads: event streams, generated policies and their hand-written Python."""
