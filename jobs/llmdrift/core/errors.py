"""The one base class of the failures llmdrift reports with a message.

Every job's error derives from :class:`LlmdriftError` (and keeps its older base, e.g. ``ValueError``), so the
CLI, the pipeline and the Glue entry point catch one class: anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class LlmdriftError(Exception):
    """A failure with a message for the user: a bad argument, config, input or state."""
