"""notifications: in-app notifications (a read model) and their delivery, once, to e-mail, SMS,
WeCom and the OA through an outbox (ADR 0015)."""
