"""Training glue: YAML recipes and the training loop (kept apart from the pure nn.Modules)."""
