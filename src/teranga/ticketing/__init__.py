"""Billetterie: catalogue, inventory, orders, signed tickets (payments in ``payments/``)."""
