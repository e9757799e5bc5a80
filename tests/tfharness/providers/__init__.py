"""Offline stand-ins for the hashicorp/aws and hashicorp/archive Terraform providers.

They speak tfplugin6 over go-plugin (plumbing from the PyPI package ``tf``) and serve the
real provider schemas, so Terraform core itself performs every schema check: unknown or
missing arguments, wrong types, bad block nesting. No AWS API is ever called.
"""
