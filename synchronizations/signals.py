"""What apps above synchronizations may react to, without synchronizations knowing them."""
from __future__ import annotations

from django.dispatch import Signal

# Sent with `synchronization=` after either side's scope changed, inside the change's transaction
# and with the synchronization locked (mappings disables what a scope no longer shows).
scope_changed = Signal()
