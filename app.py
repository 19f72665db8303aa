"""The Deep Learning Intuition Lab: the entrypoint routes to the pages in core/catalog.py."""
from pathlib import Path

import streamlit as st

from core import catalog
from ui import export, settle, sidebar, talk

# a local icon: a Material icon as favicon would be fetched from a font host by every visitor
ICON = str(Path(__file__).parent / "ui" / "icon.png")
st.set_page_config(page_title="Deep Learning Intuition Lab", page_icon=ICON,
                   layout="wide")

sections: dict[str, list] = {"": [st.Page(catalog.HOME.path, title=catalog.HOME.title,
                                          icon=catalog.HOME.icon, default=True)]}
for section, infos in catalog.by_section():
    sections[section] = [st.Page(i.path, title=i.title, icon=i.icon) for i in infos]

page = st.navigation(sections)
talk.init(page.url_path)  # talk mode and a link's hide= before the page draws anything
sidebar.render()
talk.notices(page.url_path)
export.begin_page()
page.run()
export.button(page.url_path)  # every chart the page drew, as SVG
# once per process, after the first page has drawn: import every page's modules, then
# freeze the heap, so that a full garbage collection stays short (see ui/settle.py)
settle.once()
