"""Developer stack: LocalStack (host mode) and PostgreSQL started from the checkout, plus the demo."""
