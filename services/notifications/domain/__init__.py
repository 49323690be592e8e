"""Pure notification rules, time passed in: who hears what, when, on which channel."""
