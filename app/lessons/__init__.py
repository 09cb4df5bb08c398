"""Small, exact attention lessons: every number they return is computed, none is illustrative."""
