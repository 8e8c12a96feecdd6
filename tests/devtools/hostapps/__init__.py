"""Fixture Function apps for tests/test_host.py (each directory is an app dir: function_app.py + host.json)."""
