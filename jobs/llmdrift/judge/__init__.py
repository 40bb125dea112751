"""LLM-as-judge: how far the local detectors can be trusted, measured on a judged daily sample."""
