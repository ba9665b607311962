"""Image archive (影像资料管理): documents per customer/account and per business."""
