"""Who may do what: API keys and their roles, staff users, customers' links to My Credits."""
