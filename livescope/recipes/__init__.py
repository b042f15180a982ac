"""Recipes: one command that rebuilds a shipped model from scratch (data, training, measurements, card)."""
