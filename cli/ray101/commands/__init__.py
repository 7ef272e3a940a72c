"""The CLI's command families, one module each; each lists its commands in ``COMMANDS``."""
