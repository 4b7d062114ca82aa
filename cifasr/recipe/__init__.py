"""Helpers of recipe orchestration (run.sh): steps that run once, their timing."""
