"""The naive design the mail benchmark compares against (never registered by the product's worker)."""
