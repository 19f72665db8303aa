"""The Deep Learning Intuition Lab: the entrypoint routes to the pages in ui/catalog.py."""
import streamlit as st

from ui import catalog, sidebar

st.set_page_config(page_title="Deep Learning Intuition Lab", page_icon=":material/neurology:",
                   layout="wide")

sections: dict[str, list] = {"": [st.Page(catalog.HOME.path, title=catalog.HOME.title,
                                          icon=catalog.HOME.icon, default=True)]}
for section, infos in catalog.by_section():
    sections[section] = [st.Page(i.path, title=i.title, icon=i.icon) for i in infos]

page = st.navigation(sections)
sidebar.render()
page.run()
