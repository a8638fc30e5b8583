"""Validation metrics by their textbook definitions, and the promotion gate on them."""
