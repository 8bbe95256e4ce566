"""Stored cron triggers and the one scheduler (APScheduler) that fires them inside ``llmloop serve``."""
