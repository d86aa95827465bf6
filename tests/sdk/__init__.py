"""Tests of the Python SDK (sdk/python) that need no gateway; the gateway ones are in
tests/integration/test_sdk_python*.py."""
