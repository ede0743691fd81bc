"""`comptoir bench …`: figures measured on this machine, printed, never asserted."""
