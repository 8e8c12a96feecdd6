"""Fixture app dir; a package only so that tools tell its function_app.py from the others."""
