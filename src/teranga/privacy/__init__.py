"""Personal-data protection: envelope encryption, blind indexes, residency, the register."""
