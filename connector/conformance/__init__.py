"""A protocol conformance runner for QA teams: ``connector conformance --url URL``."""
