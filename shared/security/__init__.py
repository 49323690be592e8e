"""Protection of clinical data at rest (DESIGN §8)."""
