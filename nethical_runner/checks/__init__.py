"""Every threshold of a spec as a check with one outcome type."""
