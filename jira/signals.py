"""What the site announces to the apps built on it, without knowing them."""
from __future__ import annotations

from django.dispatch import Signal

# Sent by `seed_site` once the site's data is there; a receiver may return a few words for its output
# (invitations creates the site's signing key here).
site_seeded = Signal()
