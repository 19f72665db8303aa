# The Lab in a container: CPU-only torch (no CUDA in the image), non-root, headless.
#   docker build -t dl-lab . && docker run -p 8501:8501 dl-lab
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    LAB_CACHE_DIR=/home/lab/.cache/dl-intuition-lab

RUN apt-get update \
    && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt .
# The CPU wheel index first, so pip does not pull the CUDA build of torch.
RUN pip install --index-url https://download.pytorch.org/whl/cpu "torch>=2.3,<2.14" \
    && pip install -r requirements.txt

RUN useradd --create-home --uid 1000 lab
COPY --chown=lab:lab . .
USER lab

EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD curl --fail http://localhost:8501/_stcore/health || exit 1

ENTRYPOINT ["streamlit", "run", "app.py", "--server.port=8501", "--server.address=0.0.0.0", \
            "--server.headless=true", "--server.fileWatcherType=none", \
            "--browser.gatherUsageStats=false"]
