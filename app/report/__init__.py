"""The standalone HTML report of one run."""
