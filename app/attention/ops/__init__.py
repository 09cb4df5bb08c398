"""The analyses: small pure functions from a view (or a run) to a new view.

select → weighting → special tokens → words → heads/rollout; app/attention/analysis.py
composes them in that order, app/attention/payload.py pools and encodes the result.
"""
