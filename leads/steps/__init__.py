"""The pipeline steps (intake, processing, notify, reconcile), working through the interfaces in ports.py."""
