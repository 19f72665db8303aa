from pathlib import Path

import streamlit as st

from core import catalog

THUMBNAILS = Path(__file__).resolve().parent.parent / "ui" / "thumbnails"  # scripts/thumbnails.py
PER_ROW = 3

st.title("Deep Learning Intuition Lab")
st.markdown(
    "Each page of the Lab takes one idea about how neural networks **learn, memorize and "
    "generalize** and tests it in front of you: it trains a small PyTorch model while you "
    "watch, and draws what the model does to its data as it goes. Change a setting and a "
    "new run starts; a configuration that has run before is drawn at once from the cache. "
    "Every number can be reproduced from a terminal with `python -m core run ...`."
)
for section, infos in catalog.by_section():
    st.subheader(section)
    for start in range(0, len(infos), PER_ROW):
        for column, info in zip(st.columns(PER_ROW), infos[start:start + PER_ROW]):
            with column.container(border=True):
                picture = THUMBNAILS / f"{info.name}.png"
                if picture.exists():
                    st.image(str(picture), width="stretch", alt=f"What the {info.title} page draws")
                st.page_link(info.path, label=info.title, icon=info.icon)
                st.caption(info.blurb)
