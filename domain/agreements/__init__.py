"""Agreements (协议, seed 004 §5 and §7.2): versioned templates per business type and language,
agreements generated from a flow instance's form, section reviews by the owning departments."""
