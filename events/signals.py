"""Signals of ours for bulk writes that skip post_save."""

from django.dispatch import Signal

# Sent after Detection rows were bulk-created; kwargs: detections (list of saved Detection).
detections_created = Signal()

# Sent around a batch's analysis; kwargs: batch (DetectionBatch), stage ("started", "progress",
# "completed" or "failed") and details (dict of the stage's figures). Nothing is saved at
# "started" or "failed"-with-retry that a post_save could announce, and clients want to know.
batch_enrichment = Signal()
