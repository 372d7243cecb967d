"""Utilities of every layer: user errors, atomic output, machine facts, tables and plots."""
