"""Privacy: personal fields of events sealed per data subject, and erasure (crypto-shredding)."""
