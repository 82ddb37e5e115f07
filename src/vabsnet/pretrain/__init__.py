"""SMPC pre-training: masking strategies, heads and objectives."""
