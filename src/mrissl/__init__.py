"""mrissl: from raw MRI to the tables and figures of four contrastive-learning MRI papers."""

__version__ = "0.1.0"
