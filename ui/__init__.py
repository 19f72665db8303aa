"""Streamlit parts every page shares. Pages call these; these call `core`."""
