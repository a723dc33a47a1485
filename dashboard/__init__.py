"""The Streamlit app: entrypoint, navigation and shared UI pieces."""
