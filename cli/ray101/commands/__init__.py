"""The CLI's command families, one module each; ``register(cli)`` adds them to the group."""
