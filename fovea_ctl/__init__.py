"""fovea: builds, starts, watches, backs up and tears down the FOVEA video-annotation stack."""

__version__ = "0.1.0"
