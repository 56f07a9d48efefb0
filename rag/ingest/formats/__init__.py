"""Formats other than plain text: PDF, HTML and DOCX extracted to text (``extracted``), Markdown's structure."""
