"""The pipeline's health page (``moviestream health``, ``make dashboard``): facts from the warehouse
and S3 (facts.py), the page's data (summary.py, pure) and the HTML with its charts (page.py)."""
