"""Pure: the lead, its identity and table row, the Dynamics mapping, message texts, the error family. No I/O, no SDK."""
