"""The operator commands behind ``python -m leads``: check, send-test-lead, status, replay (one module each)."""
