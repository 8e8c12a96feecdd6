"""Local development tools: starting Azurite and the whole local setup. Not deployed (see .funcignore)."""
