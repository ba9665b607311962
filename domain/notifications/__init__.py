"""Notifications (站内信 and external channels, ADR 0015): what happened that someone should hear
of, who hears of it, in which words, and each operator's preferences within the firm's policy."""
