"""Programme: venues, sports and competition sessions of the Games (public, read-mostly)."""
