"""Contrôle d'accès: each valid ticket or badge enters once, online or offline."""
