"""Text helpers that several jobs share: PII patterns (``pii``), prompt templates (``templates``) and the
embedding models (``embedders``, loaded from installed files only). Imports only ``llmdrift.core``."""
