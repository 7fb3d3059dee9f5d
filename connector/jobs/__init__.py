"""Scheduled jobs: each one a thin loop over a credit service."""
