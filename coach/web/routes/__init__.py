"""Route modules: each parses input, calls one core function and renders a template (or JSON)."""
