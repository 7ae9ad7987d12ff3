"""JOJ Dakar 2026 venues (from shared/data/joj2026/venues.yaml): journey destinations."""

from __future__ import annotations

# (id, name, lat, lon); coordinates marked approximate in venues.yaml are approximate here.
VENUES = [
    ("dakar-arena", "Dakar Arena", 14.73393, -17.21236),
    ("stade-abdoulaye-wade", "Stade Abdoulaye Wade", 14.73256, -17.20097),
    ("dakar-expo-center", "Dakar Expo Center", 14.7245, -17.1940),
    ("centre-equestre-diamniadio", "Centre équestre de Diamniadio", 14.7330, -17.1830),
    ("village-olympique", "Village olympique (UAM)", 14.7100, -17.1800),
    ("iba-mar-diop", "Complexe Iba Mar Diop", 14.6870, -17.4510),
    ("tour-de-loeuf", "Piscine olympique (Tour de l'Œuf)", 14.6975, -17.4610),
    ("place-souvenir-africain", "Place du Souvenir africain", 14.6935, -17.4745),
    ("saly-lamantin-beach", "Saly — Lamantin Beach", 14.4330, -17.0020),
]
