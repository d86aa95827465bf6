"""Reacting to events as they arrive: rules, anomaly detectors and webhook delivery."""
