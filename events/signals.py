"""Signals of ours for bulk writes that skip post_save."""

from django.dispatch import Signal

# Sent after Detection rows were bulk-created; kwargs: detections (list of saved Detection).
detections_created = Signal()
