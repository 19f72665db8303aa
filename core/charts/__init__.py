"""Altair chart builders, pure functions: data in, `alt.Chart` out (no Streamlit here).

`base` holds what every idea uses (curves, points, heatmaps, vectors from the origin,
shared scales); each other module holds one idea's frame builders and charts. Import the
modules themselves: `from core.charts import base, grokking`.
"""
