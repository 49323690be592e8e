"""What the services must agree on about care itself: the relationship and crisis help."""
