"""Fuzz harnesses (atheris, coverage-guided) and the targets the property smoke test shares."""
