"""audit: the tamper-evidence rules (chain problems, anchored checkpoints of the chain head)."""
