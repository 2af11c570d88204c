"""Built-in predicates (Selinon's ``selinon.predicates`` names)."""
