"""Questions in plain English: text-to-SQL and agentic analysis on a self-hosted model."""
