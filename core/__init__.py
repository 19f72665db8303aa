"""The Lab's engine: experiments, hyperparameters and background runs. No Streamlit here."""
