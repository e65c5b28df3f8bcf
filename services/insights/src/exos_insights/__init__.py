"""EXOS insights: Ask AI (text-to-SQL, guardrails, conversation memory), the SQL console."""
