import streamlit as st

from core import catalog

st.title("Deep Learning Intuition Lab")
st.markdown(
    "Each page of the Lab takes one idea about how neural networks **learn, memorize and "
    "generalize** and tests it in front of you: it trains a small PyTorch model while you "
    "watch, and draws what the model does to its data as it goes. Change a setting and a "
    "new run starts; a configuration that has run before is drawn at once from the cache. "
    "Every number can be reproduced from a terminal with `python -m core run ...`."
)
st.markdown("Start with a page:")
for section, infos in catalog.by_section():
    st.subheader(section)
    for info in infos:
        st.page_link(info.path, label=info.title, icon=info.icon)
        st.caption(info.blurb)
