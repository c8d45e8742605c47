"""The HTTP side, one blueprint per actor, and the request edge they share.

core (health, trust list) · pages · auth, passkeys, account_security (clinician
sign-in) · api · admin · portal/ (patients) · desk · errors, security, metrics.
The scan and unlock pages stay in tagservice/views.py, the heart of the product.
"""
