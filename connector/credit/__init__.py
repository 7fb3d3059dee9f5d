"""The credit domain: models, pure rules, and the services every edge calls."""
