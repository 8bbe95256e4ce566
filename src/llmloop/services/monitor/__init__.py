"""Monitoring: windowed metrics over traces and feedback, drift tests, alerts, and triggers."""
