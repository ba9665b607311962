"""Signatures: the PAdES sealer (pyHanko) and the firm's certificates."""
