"""What every pipeline shares: typed errors, logging, settings, AWS clients, secrets, HTTP."""
