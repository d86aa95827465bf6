"""Ray actor classes: thin wrappers that run causality/ objects on a cluster."""
