"""Hostile-input corpus: broken, mislabelled and malicious raw files, built in code (see corpus.py)."""
