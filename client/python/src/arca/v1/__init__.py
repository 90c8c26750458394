"""Code generated from proto/arca/v1 by client/python/generate.py. Do not edit."""
