"""Campanhas: build a target list for a product event, see who is in which tier, download it."""

import streamlit as st

from dashboard import campaign, campaign_save
from dashboard.state import current
from services.segments import InvalidSegment, build_list

ctx = current()
st.title("Campanhas")
campaign_save.saved_campaigns(ctx, key="campanhas")
preset = campaign.preset_picker(key="campanhas")
campaign.terms_picker(ctx, key="campanhas")
# The counts and the downloads sit right under the terms (on a phone, within the first screens);
# they are filled once the filters and messages below are read.
summary = st.container()
try:
    segment = campaign.filter_controls(ctx, key="campanhas")
except InvalidSegment as error:
    st.error(str(error), icon=":material/error:")
    st.stop()
with st.expander("Mensagens", expanded=True, icon=":material/chat:"):
    templates = campaign.template_editors(segment, key="campanhas", preset=preset)
if preset and preset.needs_terms and not segment.terms:
    summary.info(f"Escolha o produto, a linha ou a marca da campanha “{preset.label}” para montar a lista.",
                 icon=":material/manage_search:")
    st.stop()
result = build_list(ctx.data, segment, ctx.now, templates)
with summary:
    campaign.counts(result)
    campaign.downloads(ctx, result, preset, templates, key="campanhas")
campaign_save.save_form(ctx, result, preset, templates, key="campanhas")
campaign.preview(result, key="campanhas")
if result.total:
    st.markdown("**Como a mensagem chega**")
    campaign.examples(result)
