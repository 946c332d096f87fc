"""Attachments: files logged with rows (``kinds``), the ones logged but not stored yet
(``pending``), and reading one back (``reading``). Storing them is the processor's
(``braintrust.delivery.attachment_delivery``)."""
